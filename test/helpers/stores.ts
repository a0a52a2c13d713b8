/**
 * The stores every contract test runs on: SQLite always (a real file in a temp folder), PostgreSQL
 * when STEPQ_TEST_PG_URL is set (the suite says so visibly when it is not).
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import type { Clock } from '../../src/core/clock.js';
import { countsFrom, type Counts } from '../../src/core/progress.js';
import type { JobStatus } from '../../src/core/job.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { Store } from '../../src/store/store.js';
import { dropSchema, PG_SKIP_REASON, PG_URL, rawPool, uniqueName } from './postgres.js';
import { tempDir } from './temp.js';

export interface StoreUnderTest {
  store: Store;
  /** Worker jobs under a step (or a whole run) counted row by row, for checking the counters. */
  countWorkers(scope: { stepId: number } | { managerId: number }): Promise<Counts>;
  /** Every job's id and status, straight from the table. */
  statuses(): Promise<Map<number, JobStatus>>;
  /** Another store on the same data with its own connections, as a second process would open it (caller closes it). */
  openSecond(): Promise<Store>;
  close(): Promise<void>;
}

export interface StoreFactory {
  name: string;
  /** Set when this store cannot run here: its suites are declared skipped, with this in their name. */
  skipReason?: string;
  make(opts: { clock?: Clock }): Promise<StoreUnderTest>;
}

/** The suite title for a factory: skipped ones say why. */
export function suiteName(prefix: string, f: StoreFactory): string {
  return f.skipReason ? `${prefix}: ${f.name} (skipped: ${f.skipReason})` : `${prefix}: ${f.name}`;
}

const sqlite: StoreFactory = {
  name: 'sqlite',
  async make(opts) {
    const dir = tempDir('stepq-store-');
    const path = join(dir.path, 'test.db');
    const store = new SqliteStore({ path, ...(opts.clock ? { clock: opts.clock } : {}) });
    await store.migrate();
    const raw = new Database(path, { readonly: true });
    return {
      store,
      async countWorkers(scope) {
        const rows = (
          'stepId' in scope
            ? raw.prepare(`SELECT status, count(*) n FROM jobs WHERE kind='worker' AND step_id=? GROUP BY status`).all(scope.stepId)
            : raw.prepare(`SELECT status, count(*) n FROM jobs WHERE kind='worker' AND manager_id=? GROUP BY status`).all(scope.managerId)
        ) as Array<{ status: JobStatus; n: number }>;
        return countsFrom(Object.fromEntries(rows.map((r) => [r.status, r.n])));
      },
      async statuses() {
        const rows = raw.prepare('SELECT id, status FROM jobs').all() as Array<{ id: number; status: JobStatus }>;
        return new Map(rows.map((r) => [r.id, r.status]));
      },
      async openSecond() {
        const second = new SqliteStore({ path, ...(opts.clock ? { clock: opts.clock } : {}) });
        await second.migrate();
        return second;
      },
      async close() {
        raw.close();
        await store.close();
        dir.cleanup();
      },
    };
  },
};

/**
 * PostgreSQL: one schema per store under test (created by the store's own migration, dropped on
 * close), so parallel test files and property-test runs never see each other's rows.
 */
const postgres: StoreFactory = {
  name: 'postgres',
  ...(PG_URL ? {} : { skipReason: PG_SKIP_REASON }),
  async make(opts) {
    if (!PG_URL) throw new Error(PG_SKIP_REASON);
    const url = PG_URL;
    const schema = uniqueName('stepq_t');
    const open = async (): Promise<PostgresStore> => {
      const s = new PostgresStore({ connectionString: url, schema, poolSize: 8, ...(opts.clock ? { clock: opts.clock } : {}) });
      await s.migrate();
      return s;
    };
    const store = await open();
    const raw = rawPool(url, schema);
    return {
      store,
      async countWorkers(scope) {
        const { rows } =
          'stepId' in scope
            ? await raw.query<{ status: JobStatus; n: number }>(
                `SELECT status, count(*) n FROM jobs WHERE kind='worker' AND step_id=$1 GROUP BY status`,
                [scope.stepId],
              )
            : await raw.query<{ status: JobStatus; n: number }>(
                `SELECT status, count(*) n FROM jobs WHERE kind='worker' AND manager_id=$1 GROUP BY status`,
                [scope.managerId],
              );
        return countsFrom(Object.fromEntries(rows.map((r) => [r.status, r.n])));
      },
      async statuses() {
        const { rows } = await raw.query<{ id: number; status: JobStatus }>('SELECT id, status FROM jobs');
        return new Map(rows.map((r) => [r.id, r.status]));
      },
      openSecond: open,
      async close() {
        await raw.end();
        await store.close();
        await dropSchema(url, schema);
      },
    };
  },
};

export const storeFactories: StoreFactory[] = [sqlite, postgres];

/** Registers extra factories (the PostgreSQL one registers itself when its URL is set). */
export function addStoreFactory(f: StoreFactory): void {
  storeFactories.push(f);
}
