/**
 * The queries run once per claim or per tick must read through an index in claim order: a plan that
 * scans or sorts the jobs table costs O(jobs) per call, and a large run slows to a crawl (a 100,000-job
 * `stepq run` once took minutes because CLAIM_RUN sorted all of its run's jobs on every claim).
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../../../test/helpers/temp.js';
import { migrateSqlite } from './migrate.js';
import * as Q from './queries.js';

const HOT = {
  CLAIM: Q.CLAIM,
  CLAIM_TYPES: Q.CLAIM_TYPES,
  CLAIM_RUN: Q.CLAIM_RUN,
  CLAIM_FROM_STEP: Q.CLAIM_FROM_STEP,
  CLAIM_FROM_STEP_TYPES: Q.CLAIM_FROM_STEP_TYPES,
  EXPIRED_LEASES: Q.EXPIRED_LEASES,
  STEPS_OF_RUN: Q.STEPS_OF_RUN,
  RUNNING_MANAGERS: Q.RUNNING_MANAGERS,
};

/** Binds every named parameter of `sql` to a harmless value (plans do not depend on them). */
function params(sql: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [, name] of sql.matchAll(/@(\w+)/g)) out[name!] = name === 'types' || name === 'ids' ? '[]' : 1;
  return out;
}

describe('SQLite query plans of the hot paths', () => {
  let cleanup = (): void => {};
  afterEach(() => cleanup());

  it.each(Object.entries(HOT))('%s reads the jobs table through an index, without sorting it', (_name, sql) => {
    const dir = tempDir();
    const db = new Database(join(dir.path, 'plans.db'));
    cleanup = () => {
      db.close();
      dir.cleanup();
    };
    migrateSqlite(db);
    const plan = (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(params(sql)) as Array<{ detail: string }>).map((r) => r.detail);
    const onJobs = plan.filter((d) => /\bjobs\b/.test(d));
    expect(onJobs.length).toBeGreaterThan(0);
    expect(plan.filter((d) => /TEMP B-TREE/.test(d))).toEqual([]);
    expect(onJobs.filter((d) => /^SCAN jobs\b/.test(d) && !/USING (COVERING )?INDEX/.test(d))).toEqual([]);
  });
});
