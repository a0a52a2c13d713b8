/**
 * How definition problems are described: paths, found values, suggestions, and the one-line-per-issue
 * text (`file:line:column: path: message`) that the CLI prints and the server returns as `details`.
 */
import { StepqError, type ErrorCode } from '../core/errors.js';
import type { DefinitionIssue } from './types.js';

/** A field path while validating: keys, and array indices as numbers. */
export type PathSegment = string | number;
export type FieldPath = readonly PathSegment[];

/** An issue before it is located in the source. */
export interface RawIssue {
  path: FieldPath;
  message: string;
  /** Set when the position is known without the locator (TOML syntax errors). */
  line?: number;
  column?: number;
}

const BARE_KEY = /^[A-Za-z0-9_-]+$/;

/** `step.fetch.urls[2]`; keys that are not bare TOML keys are quoted (`step.x."a.b"`). */
export function formatPath(path: FieldPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += (out === '' ? '' : '.') + (BARE_KEY.test(seg) ? seg : JSON.stringify(seg));
  }
  return out;
}

const MAX_PREVIEW = 60;

function preview(text: string): string {
  return text.length > MAX_PREVIEW ? `${text.slice(0, MAX_PREVIEW - 1)}…` : text;
}

/** What was found, for "Expected X, got Y" messages. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'string') return preview(JSON.stringify(value));
  if (typeof value === 'number') {
    if (Number.isNaN(value)) return 'nan';
    if (!Number.isFinite(value)) return value > 0 ? 'inf' : '-inf';
    return String(value);
  }
  if (typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (value instanceof Date) return `a date (${value.toISOString()})`;
  if (Array.isArray(value)) {
    let json: string;
    try {
      json = JSON.stringify(value) ?? '[…]';
    } catch {
      json = '[…]';
    }
    return `a list ${preview(json)}`;
  }
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'object') return 'a table';
  return typeof value;
}

/** `Expected ${what}, got ${value}`: the one shape of a field message. */
export function expected(what: string, found: unknown): string {
  return `Expected ${what}, got ${describeValue(found)}`;
}

/** Edit distance where swapping two neighbouring letters counts as one edit ("defualt" → "default"). */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * ` (did you mean "depends_on"?)` when a candidate is close to `word`, else an empty string. Words of
 * one or two letters get no suggestion: every short name would be "close" to them.
 */
export function didYouMean(word: string, candidates: readonly string[]): string {
  if (word.length <= 2) return '';
  const norm = (s: string) => s.toLowerCase().replace(/[-_]/g, '');
  let best: string | undefined;
  let bestScore = Infinity;
  for (const c of candidates) {
    if (c === word) continue;
    const score = norm(c) === norm(word) ? 0 : editDistance(word.toLowerCase(), c.toLowerCase());
    if (score < bestScore) {
      best = c;
      bestScore = score;
    }
  }
  const limit = Math.max(1, Math.min(3, Math.floor(word.length / 3)));
  return best !== undefined && bestScore <= limit ? ` (did you mean "${best}"?)` : '';
}

/** `"a", "b" or "c"` */
export function listChoices(choices: readonly string[]): string {
  const quoted = choices.map((c) => `"${c}"`);
  if (quoted.length <= 1) return quoted.join('');
  return `${quoted.slice(0, -1).join(', ')} or ${quoted[quoted.length - 1]}`;
}

function locationPrefix(issue: DefinitionIssue): string {
  if (issue.file !== undefined) {
    let loc = issue.file;
    if (issue.line !== undefined) loc += `:${issue.line}`;
    if (issue.line !== undefined && issue.column !== undefined) loc += `:${issue.column}`;
    return `${loc}: `;
  }
  if (issue.line !== undefined) {
    return issue.column !== undefined ? `line ${issue.line}:${issue.column}: ` : `line ${issue.line}: `;
  }
  return '';
}

/** One line per issue: `examples/x.toml:12:3: step.fetch.retries: Expected a whole number ≥ 1, got "three"`. */
export function formatIssues(issues: readonly DefinitionIssue[]): string {
  return issues.map((issue) => `${locationPrefix(issue)}${issue.path === '' ? '' : `${issue.path}: `}${issue.message}`).join('\n');
}

/**
 * The error the CLI and the server raise for a rejected definition or run request; the issues travel
 * as `details` so that the page can show each one beside its field.
 */
export function definitionError(
  issues: readonly DefinitionIssue[],
  code: Extract<ErrorCode, 'ERR_DEFINITION_INVALID' | 'ERR_PARAMS_INVALID'> = 'ERR_DEFINITION_INVALID',
): StepqError {
  const what = code === 'ERR_PARAMS_INVALID' ? 'The run request is invalid' : 'The definition is invalid';
  const count = issues.length === 1 ? '1 problem' : `${issues.length} problems`;
  return new StepqError(code, `${what} (${count}):\n${formatIssues(issues)}`, { issues });
}
