/**
 * Definitions as text: TOML (the usual form) or JSON (the same keys), told apart by the file name,
 * or by the first character when there is no name.
 */
import { parseDefinition, parseDefinitionObject } from './parse.js';
import type { ParseOptions, ParseResult } from './types.js';

export type DefinitionFormat = 'toml' | 'json';

export function formatOf(source: string, file?: string): DefinitionFormat {
  if (file) return /\.json$/i.test(file) ? 'json' : 'toml';
  return source.trimStart().startsWith('{') ? 'json' : 'toml';
}

export function parseDefinitionText(source: string, opts: ParseOptions): ParseResult {
  if (formatOf(source, opts.file) === 'toml') return parseDefinition(source, opts);
  let obj: unknown;
  try {
    obj = JSON.parse(source);
  } catch (err) {
    return {
      ok: false,
      issues: [{ ...(opts.file ? { file: opts.file } : {}), path: '', message: `Invalid JSON: ${(err as Error).message}` }],
    };
  }
  const r = parseDefinitionObject(obj, opts);
  return r.ok ? r : { ok: false, issues: r.issues.map((i) => ({ ...(opts.file ? { file: opts.file } : {}), ...i })) };
}
