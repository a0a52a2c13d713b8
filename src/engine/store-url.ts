import { resolve } from 'node:path';
import type { Clock } from '../core/clock.js';
import { StepqError } from '../core/errors.js';
import type { Store } from '../store/store.js';

/**
 * Opens a store from its URL: `sqlite:PATH` (relative to the working directory), a bare path ending
 * in `.db`/`.sqlite`, or `postgres://user@host:port/db` (also `postgresql://`; stepq's own query
 * parameters `schema` and `pool_size` are taken out, the rest is passed to `pg`).
 */
export async function openStore(url: string, opts: { clock?: Clock } = {}): Promise<Store> {
  const path = sqlitePathOf(url);
  if (path === null) {
    const { PostgresStore, postgresOptionsFromUrl } = await import('../store/postgres/postgres-store.js');
    return new PostgresStore({ ...postgresOptionsFromUrl(url), ...(opts.clock ? { clock: opts.clock } : {}) });
  }
  const { SqliteStore } = await import('../store/sqlite/sqlite-store.js');
  return new SqliteStore({ path, ...(opts.clock ? { clock: opts.clock } : {}) });
}

/**
 * The absolute path of the file a SQLite store URL names, or null for a PostgreSQL URL; throws
 * ERR_STORE_URL for anything else. (The command line checks the file before opening it.)
 */
export function sqlitePathOf(url: string): string | null {
  if (/^postgres(ql)?:\/\//.test(url)) return null;
  let path: string | null = null;
  if (url.startsWith('sqlite://')) path = url.slice('sqlite://'.length);
  else if (url.startsWith('sqlite:')) path = url.slice('sqlite:'.length);
  else if (/\.(db|sqlite3?)$/.test(url) && !url.includes('://')) path = url;
  if (path === null || path.length === 0) {
    throw new StepqError('ERR_STORE_URL', `Cannot use "${url}" as a store: use sqlite:PATH or postgres://user@host:port/db.`);
  }
  return resolve(path);
}

/** The store URL for messages and logs: a password (in the authority or `?password=`) shown as ***. */
export function redactStoreUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/@:]*:)[^/@]*@/i, '$1***@').replace(/([?&]password=)[^&]*/i, '$1***');
}
