import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';

const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));

/** Advisory-lock key space of stepq's migrations (one bigint key; other stepq locks use two int4 keys). */
const MIGRATE_LOCK_BASE = 0x7374_6570_7100n; // "stepq\0"

/** Quotes an identifier for SQL text (schema names come from configuration, never from requests). */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** A stable 63-bit key for the migration lock of one schema, so two schemas migrate independently. */
function lockKey(schema: string): string {
  let h = 0n;
  for (const ch of Buffer.from(schema, 'utf8')) h = (h * 131n + BigInt(ch)) & 0xffff_ffffn;
  return String(MIGRATE_LOCK_BASE + h);
}

/**
 * Numbered, forward-only migrations (`0001_init.sql`, ...), applied in one transaction that holds a
 * transaction-scoped advisory lock: when several processes start at once, one migrates and the others
 * wait for it, then find nothing left to do. Returns the versions this call applied.
 */
export async function migratePostgres(client: pg.ClientBase, schema: string): Promise<number[]> {
  const files = readdirSync(MIGRATIONS_DIR)
    .filter((f) => /^\d{4}_.+\.sql$/.test(f))
    .sort();
  const done: number[] = [];
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [lockKey(schema)]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${quoteIdent(schema)}.schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at bigint NOT NULL)`);
    const { rows } = await client.query<{ version: number }>(`SELECT version FROM ${quoteIdent(schema)}.schema_migrations`);
    const applied = new Set(rows.map((r) => Number(r.version)));
    for (const file of files) {
      const version = Number(file.slice(0, 4));
      if (applied.has(version)) continue;
      const sql = readFileSync(MIGRATIONS_DIR + file, 'utf8');
      // The migration's unqualified names land in `schema` (first on the search path).
      await client.query(`SET LOCAL search_path TO ${quoteIdent(schema)}`);
      await client.query(sql);
      await client.query(
        `INSERT INTO ${quoteIdent(schema)}.schema_migrations (version, name, applied_at)
         VALUES ($1, $2, (extract(epoch from clock_timestamp()) * 1000)::bigint)`,
        [version, file],
      );
      done.push(version);
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
  return done;
}
