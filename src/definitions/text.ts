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
  const dup = duplicateJsonKey(source);
  if (dup) {
    return {
      ok: false,
      issues: [
        {
          ...(opts.file ? { file: opts.file } : {}),
          path: dup.path,
          line: dup.line,
          column: dup.column,
          message: `Duplicate key "${dup.key}": JSON.parse would keep only the last one`,
        },
      ],
    };
  }
  const r = parseDefinitionObject(obj, opts);
  return r.ok ? r : { ok: false, issues: r.issues.map((i) => ({ ...(opts.file ? { file: opts.file } : {}), ...i })) };
}

/**
 * The first key repeated within one JSON object (TOML refuses these; JSON.parse silently keeps the
 * last). `source` is already known to be valid JSON. Iterative: nesting depth costs no stack.
 */
export function duplicateJsonKey(source: string): { key: string; path: string; line: number; column: number } | null {
  interface Frame {
    keys: Set<string> | null; // null for an array
    name: string;
  }
  const stack: Frame[] = [];
  let line = 1;
  let lineStart = 0;
  let lastKey = '';
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '\n') {
      line++;
      lineStart = i + 1;
    } else if (c === '{' || c === '[') {
      const top = stack[stack.length - 1];
      const name = top === undefined ? '' : top.keys === null ? `${top.name}[]` : [top.name, lastKey].filter(Boolean).join('.');
      stack.push({ keys: c === '{' ? new Set() : null, name });
    } else if (c === '}' || c === ']') {
      stack.pop();
    } else if (c === '"') {
      const start = i;
      let j = i + 1;
      while (source[j] !== '"') j += source[j] === '\\' ? 2 : 1;
      i = j;
      let k = j + 1;
      while (k < source.length && ' \t\r\n'.includes(source[k]!)) k++;
      const top = stack[stack.length - 1];
      if (source[k] === ':' && top?.keys) {
        const key = JSON.parse(source.slice(start, j + 1)) as string;
        if (top.keys.has(key)) return { key, path: [top.name, key].filter(Boolean).join('.'), line, column: start - lineStart + 1 };
        top.keys.add(key);
        lastKey = key;
      }
    }
  }
  return null;
}
