/**
 * The stores every contract test runs on: SQLite always (a real file in a temp folder), PostgreSQL
 * when STEPQ_TEST_PG_URL is set (the suite says so visibly when it is not).
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import type { Clock } from '../../src/core/clock.js';
import { countsFrom, type Counts } from '../../src/core/progress.js';
import type { JobStatus } from '../../src/core/job.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { Store } from '../../src/store/store.js';
import { tempDir } from './temp.js';

export interface StoreUnderTest {
  store: Store;
  /** Worker jobs under a step (or a whole run) counted row by row, for checking the counters. */
  countWorkers(scope: { stepId: number } | { managerId: number }): Promise<Counts>;
  /** Every job's id and status, straight from the table. */
  statuses(): Promise<Map<number, JobStatus>>;
  close(): Promise<void>;
}

export interface StoreFactory {
  name: string;
  make(opts: { clock?: Clock }): Promise<StoreUnderTest>;
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
      async close() {
        raw.close();
        await store.close();
        dir.cleanup();
      },
    };
  },
};

export const storeFactories: StoreFactory[] = [sqlite];

/** Registers extra factories (the PostgreSQL one registers itself when its URL is set). */
export function addStoreFactory(f: StoreFactory): void {
  storeFactories.push(f);
}
