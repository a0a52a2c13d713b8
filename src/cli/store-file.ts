/**
 * The SQLite file behind --store, checked before the store is opened. Opening one creates the file
 * and every missing folder above it, which suits the library but not a shell: `stepq jobs list
 * --store sqlite:typo/n.db` would create an empty store and answer "No jobs.", and a mistyped
 * absolute path would create folders anywhere. PostgreSQL URLs pass unchecked.
 */
import { existsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { sqlitePathOf } from '../engine/store-url.js';

/**
 * Why the store cannot be used for this command, or null when it can. `existing`: commands that read
 * or act on what a store holds need the file. `create`: commands that start runs or store
 * definitions may create the file, but only in a folder that exists.
 */
export function storeFileProblem(url: string, need: 'existing' | 'create'): string | null {
  let path: string | null;
  try {
    path = sqlitePathOf(url);
  } catch {
    return null; // not a store URL: opening it says so
  }
  if (path === null || existsSync(path)) return null;
  if (need === 'existing') return `no store at ${path} (run a definition first, or pass --store)`;
  const dir = dirname(path);
  if (!existsSync(dir))
    return `cannot create the store ${path}: the folder ${dir} does not exist (create it first, or pass another --store)`;
  if (!statSync(dir).isDirectory()) return `cannot create the store ${path}: ${dir} is not a folder`;
  return null;
}
