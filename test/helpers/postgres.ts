/**
 * PostgreSQL for tests: the server comes from STEPQ_TEST_PG_URL (scripts/pg-test-server.sh starts a
 * throwaway one); each store under test gets its own schema, or its own database when separate
 * processes must use the default schema, and drops it afterwards.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { PG_TYPES } from '../../src/store/postgres/postgres-store.js';

export const PG_URL: string | undefined = process.env.STEPQ_TEST_PG_URL || undefined;

/** Why the PostgreSQL suites are skipped, shown in their names. */
export const PG_SKIP_REASON = 'STEPQ_TEST_PG_URL not set; start one with scripts/pg-test-server.sh';

export function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(5).toString('hex')}`;
}

/** A connection to the test server's maintenance database (same URL). */
export async function adminClient(url = PG_URL): Promise<pg.Client> {
  if (!url) throw new Error(PG_SKIP_REASON);
  const c = new pg.Client({ connectionString: url, types: PG_TYPES });
  await c.connect();
  return c;
}

/** A pool whose connections resolve names in `schema` (for counting rows behind the store's back). */
export function rawPool(url: string, schema: string): pg.Pool {
  return new pg.Pool({ connectionString: url, types: PG_TYPES, max: 2, options: `-c search_path="${schema}"` });
}

export async function dropSchema(url: string, schema: string): Promise<void> {
  const c = await adminClient(url);
  try {
    await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await c.end();
  }
}

/** A fresh database on the test server; returns its URL and a function that drops it. */
export async function tempDatabase(prefix = 'stepq_test'): Promise<{ url: string; name: string; drop(): Promise<void> }> {
  const name = uniqueName(prefix);
  const admin = await adminClient();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const u = new URL(PG_URL!);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    name,
    async drop() {
      const c = await adminClient();
      try {
        await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}
