/**
 * The fields of a definition and of a step's common options: which keys exist, and how each value is
 * read. Each reader reports into an issue list instead of throwing, so that one pass finds every
 * problem. Simple fields are zod schemas with messages in the one shape "Expected X, got Y".
 */
import { z } from 'zod';
import { BACKOFF_TYPES, DEFAULT_POLICY, ON_ERROR, type BackoffPolicy, type MaxFailures } from '../core/lifecycle.js';
import { validateCron } from './cron.js';
import { DURATION_HINT, parseDuration } from './durations.js';
import { didYouMean, expected, listChoices, type FieldPath, type RawIssue } from './issues.js';

export const DEFINITION_KEYS = ['id', 'name', 'description', 'tags', 'schedule', 'timeout', 'enabled', 'params', 'step'] as const;

/** Keys every step takes; all other keys of a step table are its type's own config. */
export const STEP_OPTION_KEYS = [
  'type',
  'description',
  'depends_on',
  'on_error',
  'max_failures',
  'retries',
  'backoff',
  'timeout',
  'concurrency',
  'priority',
] as const;

export const BACKOFF_KEYS = ['type', 'base', 'max'] as const;

/** Definition ids and step names: safe in URLs, file names and log lines. */
export const NAME_PATTERN = /^[a-z0-9][a-z0-9_-]*$/;
export const NAME_MAX_LENGTH = 64;
const NAME_TEXT = `lowercase letters, digits, "_" and "-", starting with a letter or digit, at most ${NAME_MAX_LENGTH} characters`;

export function isValidName(name: string): boolean {
  return NAME_PATTERN.test(name) && name.length <= NAME_MAX_LENGTH;
}

export function stepNameProblem(name: string): string | null {
  return isValidName(name) ? null : expected(`a step name of ${NAME_TEXT}`, name);
}

/** Reads one field; on failure it pushes issues and returns undefined. */
export type FieldReader<T> = (value: unknown, path: FieldPath, issues: RawIssue[]) => T | undefined;

/** zod error option: "Expected `what`, got <the input>". */
function says(what: string) {
  return { error: (iss: { input?: unknown }) => expected(what, iss.input) };
}

function fromZod<T>(schema: z.ZodType<T>): FieldReader<T> {
  return (value, path, issues) => {
    const r = schema.safeParse(value);
    if (r.success) return r.data;
    const seen = new Set<string>();
    for (const iss of r.error.issues) {
      const at = [...path, ...iss.path.map((p) => (typeof p === 'symbol' ? String(p) : p))];
      const key = `${JSON.stringify(at)} ${iss.message}`;
      if (seen.has(key)) continue; // a value failing two checks with the same message is one issue
      seen.add(key);
      issues.push({ path: at, message: iss.message });
    }
    return undefined;
  };
}

const WHOLE_AT_LEAST_ONE = says('a whole number ≥ 1');
const ID_TEXT = `an id of ${NAME_TEXT}`;

export const readId = fromZod(z.string(says(ID_TEXT)).regex(NAME_PATTERN, says(ID_TEXT)).max(NAME_MAX_LENGTH, says(ID_TEXT)));
/** Longest display name and description: long enough for prose, short enough for a page to show. */
export const MAX_NAME_CHARS = 200;
export const MAX_DESCRIPTION_CHARS = 4000;

export const readNonEmptyText = fromZod(
  z
    .string(says('a non-empty string'))
    .refine((s) => s.trim() !== '', says('a non-empty string'))
    .refine((s) => s.length <= MAX_NAME_CHARS, says(`a name of at most ${MAX_NAME_CHARS} characters`)),
);
export const readText = fromZod(
  z
    .string(says('a string'))
    .refine((s) => s.length <= MAX_DESCRIPTION_CHARS, says(`a text of at most ${MAX_DESCRIPTION_CHARS} characters`)),
);
export const readTags = fromZod(
  z
    .array(z.string(says('a string')).max(64, says('tags of at most 64 characters')), says('a list of strings, like ["demo", "files"]'))
    .max(50, says('at most 50 tags')),
);
export const readBoolean = fromZod(z.boolean(says('true or false')));
export const readSchedule: FieldReader<string> = (value, path, issues) => {
  if (typeof value !== 'string') {
    issues.push({ path, message: expected('a cron expression as a string, like "*/5 * * * *"', value) });
    return undefined;
  }
  const problem = validateCron(value);
  if (problem) {
    issues.push({ path, message: problem });
    return undefined;
  }
  return value.trim();
};
export const readOnError = fromZod(z.enum(ON_ERROR, says(listChoices(ON_ERROR))));
export const readCount = fromZod(z.number(WHOLE_AT_LEAST_ONE).int(WHOLE_AT_LEAST_ONE).min(1, WHOLE_AT_LEAST_ONE));
export const readInteger = fromZod(z.number(says('a whole number')).int(says('a whole number')));

/** A duration in ms; `positive` rejects 0 (a timeout of zero would fail every job at once). */
export function durationReader(opts: { positive: boolean }): FieldReader<number> {
  return (value, path, issues) => {
    if (typeof value !== 'string' && typeof value !== 'number') {
      issues.push({ path, message: expected(DURATION_HINT, value) });
      return undefined;
    }
    try {
      const ms = parseDuration(value);
      if (opts.positive && ms === 0) {
        issues.push({ path, message: expected('a duration greater than 0 (leave the key out for no timeout)', value) });
        return undefined;
      }
      return ms;
    } catch (err) {
      issues.push({ path, message: err instanceof Error ? err.message : String(err) });
      return undefined;
    }
  };
}

export const readTimeout = durationReader({ positive: true });
const readDelay = durationReader({ positive: false });

const PERCENT = /^\s*(\d+(?:\.\d+)?)\s*%\s*$/;
const MAX_FAILURES_TEXT = 'a count (a whole number ≥ 0) or a percentage from "0%" to "100%", like "5%"';

export const readMaxFailures: FieldReader<MaxFailures> = (value, path, issues) => {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return { kind: 'count', value };
  if (typeof value === 'string') {
    const m = PERCENT.exec(value);
    const pct = m ? Number(m[1]) : NaN;
    if (pct >= 0 && pct <= 100) return { kind: 'percent', value: pct };
  }
  issues.push({ path, message: expected(MAX_FAILURES_TEXT, value) });
  return undefined;
};

type BackoffType = BackoffPolicy['type'];
const BACKOFF_TEXT = `${listChoices(BACKOFF_TYPES)}, or a table like { type = "exponential", base = "1s", max = "5m" }`;

function isBackoffType(v: unknown): v is BackoffType {
  return typeof v === 'string' && (BACKOFF_TYPES as readonly string[]).includes(v);
}

export const readBackoff: FieldReader<BackoffPolicy> = (value, path, issues) => {
  const defaults = DEFAULT_POLICY.backoff;
  if (isBackoffType(value)) return { type: value, baseMs: defaults.baseMs, maxMs: defaults.maxMs };
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Date) {
    const hint = typeof value === 'string' ? didYouMean(value, BACKOFF_TYPES) : '';
    issues.push({ path, message: `${expected(BACKOFF_TEXT, value)}${hint}` });
    return undefined;
  }
  const table = value as Record<string, unknown>;
  const before = issues.length;
  for (const key of Object.keys(table)) {
    if (!(BACKOFF_KEYS as readonly string[]).includes(key)) {
      issues.push({
        path: [...path, key],
        message: `Unknown key "${key}" in backoff${didYouMean(key, BACKOFF_KEYS)}; expected one of: ${BACKOFF_KEYS.join(', ')}`,
      });
    }
  }
  let type: BackoffType = 'exponential';
  if (table.type !== undefined) {
    if (isBackoffType(table.type)) type = table.type;
    else issues.push({ path: [...path, 'type'], message: expected(listChoices(BACKOFF_TYPES), table.type) });
  }
  const baseMs = table.base === undefined ? defaults.baseMs : readDelay(table.base, [...path, 'base'], issues);
  const maxMs = table.max === undefined ? defaults.maxMs : readDelay(table.max, [...path, 'max'], issues);
  if (baseMs !== undefined && maxMs !== undefined && type === 'exponential' && maxMs < baseMs) {
    issues.push({
      path: [...path, 'max'],
      message: `Expected max ≥ base for exponential backoff, got max ${String(table.max)} below base ${String(table.base ?? '1s')}`,
    });
  }
  if (issues.length > before || baseMs === undefined || maxMs === undefined) return undefined;
  return { type, baseMs, maxMs };
};

/** Unknown keys of a table, each as an issue naming the expected ones. */
export function unknownKeys(params: {
  table: Record<string, unknown>;
  known: readonly string[];
  path: FieldPath;
  where: string;
  issues: RawIssue[];
}): void {
  const { table, known, path, where, issues } = params;
  for (const key of Object.keys(table)) {
    if (known.includes(key)) continue;
    issues.push({
      path: [...path, key],
      message: `Unknown key "${key}" ${where}${didYouMean(key, known)}; expected one of: ${known.join(', ')}`,
    });
  }
}
