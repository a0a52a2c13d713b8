/**
 * What only the PostgreSQL store has: store URLs, migrations racing from several processes, the
 * database clock. The behaviour every store shares is in test/store-contract/.
 */
import { describe, expect, it } from 'vitest';
import { openStore } from '../../src/engine/store-url.js';
import { PostgresStore, postgresOptionsFromUrl } from '../../src/store/postgres/postgres-store.js';
import { adminClient, dropSchema, PG_SKIP_REASON, PG_URL, uniqueName } from '../helpers/postgres.js';

describe('postgres store URLs', () => {
  it('takes stepq parameters out of the URL and passes the rest to pg', () => {
    expect(postgresOptionsFromUrl('postgres://u:p@h:5433/db?schema=jobs&pool_size=4&sslmode=disable')).toEqual({
      connectionString: 'postgres://u:p@h:5433/db?sslmode=disable',
      schema: 'jobs',
      poolSize: 4,
    });
    expect(postgresOptionsFromUrl('postgresql://h/db')).toEqual({ connectionString: 'postgresql://h/db' });
    expect(() => postgresOptionsFromUrl('postgres://h/db?pool_size=0')).toThrow(/pool_size/);
  });

  it('opens postgres:// and postgresql:// URLs as a shared store', async () => {
    const store = await openStore('postgresql://127.0.0.1:1/none');
    expect(store.capabilities).toEqual({ dialect: 'postgres', multiProcess: true });
    await store.close();
  });
});

describe.skipIf(!PG_URL)(PG_URL ? 'postgres store' : `postgres store (skipped: ${PG_SKIP_REASON})`, () => {
  it('migrates once when several processes start at once', async () => {
    const schema = uniqueName('stepq_m');
    const stores = Array.from({ length: 5 }, () => new PostgresStore({ connectionString: PG_URL!, schema, poolSize: 2 }));
    try {
      await Promise.all(stores.map((s) => s.migrate()));
      await stores[0]!.migrate(); // and again later: nothing to do
      const c = await adminClient();
      try {
        const { rows } = await c.query(`SELECT version, name FROM "${schema}".schema_migrations ORDER BY version`);
        expect(rows.map((r) => [r.version, r.name])).toEqual([
          [1, '0001_init.sql'],
          [2, '0002_claim_by_run.sql'],
        ]);
      } finally {
        await c.end();
      }
      expect(await stores[1]!.getStats()).toMatchObject({ runs: { total: 0 }, jobs: { total: 0 } });
    } finally {
      await Promise.all(stores.map((s) => s.close()));
      await dropSchema(PG_URL!, schema);
    }
  });

  it("keeps the URL's server options besides its own search path", async () => {
    const schema = uniqueName('stepq_m');
    const u = new URL(PG_URL!);
    u.searchParams.set('options', '-c statement_timeout=12345');
    const store = new PostgresStore({ ...postgresOptionsFromUrl(u.toString()), schema });
    try {
      await store.migrate();
      const { rows } = await store.pool.query<{ t: string; p: string }>(
        `SELECT current_setting('statement_timeout') AS t, current_setting('search_path') AS p`,
      );
      expect(rows[0]).toEqual({ t: '12345ms', p: `"${schema}"` });
    } finally {
      await store.close();
      await dropSchema(PG_URL!, schema);
    }
  });

  it('reads time from the database clock', async () => {
    const schema = uniqueName('stepq_m');
    const store = new PostgresStore({ connectionString: PG_URL!, schema });
    try {
      const before = Date.now();
      const now = await store.now();
      expect(Math.abs(now - before)).toBeLessThan(5_000); // same machine here; the point is whose clock
      expect(Number.isInteger(now)).toBe(true);
    } finally {
      await store.close();
    }
  });
});
