import { join } from 'node:path';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { createStepq, type Stepq, type StepqOptions } from '../../src/engine/engine.js';
import { dropSchema, PG_SKIP_REASON, PG_URL, rawPool, uniqueName } from './postgres.js';
import { tempDir } from './temp.js';

export type SqlRow = Record<string, unknown>;

export interface TestEngine {
  engine: Stepq;
  /** A fresh temp folder (also for files a test writes). */
  dir: string;
  /** SQLite targets: the database file. */
  dbPath: string;
  /** Runs SQL on the engine's database behind its back; `?` placeholders, counts as numbers. */
  query(sql: string, params?: unknown[]): Promise<SqlRow[]>;
  close(): Promise<void>;
}

/** Where an engine under test keeps its data: SQLite (always) or PostgreSQL (when its URL is set). */
export interface EngineTarget {
  name: 'sqlite' | 'postgres';
  /** Set when this target cannot run here: its suites are declared skipped, with this in their name. */
  skipReason?: string;
}

export const engineTargets: EngineTarget[] = [{ name: 'sqlite' }, { name: 'postgres', ...(PG_URL ? {} : { skipReason: PG_SKIP_REASON }) }];

/** The suite title for a target: skipped ones say why. */
export function engineSuiteName(prefix: string, t: EngineTarget): string {
  return t.skipReason ? `${prefix}: ${t.name} (skipped: ${t.skipReason})` : `${prefix}: ${t.name}`;
}

/**
 * An engine with workers started, on a fresh SQLite file in a temp folder (the default), or on a
 * fresh PostgreSQL schema (dropped on close).
 */
export async function testEngine(
  opts: StepqOptions & { start?: boolean } = {},
  target: EngineTarget = engineTargets[0]!,
): Promise<TestEngine> {
  const dir = tempDir('stepq-engine-');
  const dbPath = join(dir.path, 'stepq.db');
  let store: string;
  let query: TestEngine['query'];
  let cleanup: () => Promise<void>;
  if (target.name === 'postgres') {
    const url = PG_URL;
    if (!url) throw new Error(PG_SKIP_REASON);
    const schema = uniqueName('stepq_e');
    const u = new URL(url);
    u.searchParams.set('schema', schema);
    store = u.toString();
    const raw = rawPool(url, schema);
    query = async (sql, params = []) => {
      let n = 0;
      return (
        await raw.query<SqlRow>(
          sql.replace(/\?/g, () => `$${++n}`),
          params,
        )
      ).rows;
    };
    cleanup = async () => {
      await raw.end();
      await dropSchema(url, schema);
    };
  } else {
    store = `sqlite:${dbPath}`;
    query = async (sql, params = []) => {
      const db = new Database(dbPath, { readonly: true });
      try {
        return db.prepare(sql).all(...params) as SqlRow[];
      } finally {
        db.close();
      }
    };
    cleanup = async () => undefined;
  }
  const engine = await createStepq({
    store,
    logger: pino({ level: process.env.STEPQ_TEST_LOG ?? 'silent' }),
    pollMs: 50,
    ...opts,
  });
  if (opts.start !== false) engine.start();
  return {
    engine,
    dir: dir.path,
    dbPath,
    query,
    async close() {
      await engine.stop({ graceMs: 1000 });
      await engine.store.close(); // when a test stopped the engine without closing the store
      await cleanup();
      dir.cleanup();
    },
  };
}

/** A TOML definition from a compact description. */
export function toml(lines: string[]): { source: string } {
  return { source: lines.join('\n') };
}
