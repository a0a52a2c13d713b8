/**
 * Schedules are standard 5-field cron expressions (minute hour day-of-month month day-of-week),
 * evaluated in UTC unless the caller names a time zone. cron-parser also reads a 6th (seconds) field,
 * fills in missing fields and accepts Jenkins-style `H` hashes; all three are rejected here, so that an
 * expression means the same thing to stepq as to crontab and to a reader.
 */
import { CronExpressionParser } from 'cron-parser';
import { errorMessage } from '../core/errors.js';

/** Macros that stand for a 5-field expression; `@secondly` (and cron-parser's own extras) are left out. */
const MACROS = ['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@hourly'] as const;

const FIELD_NAMES = 'minute hour day-of-month month day-of-week';

/** An error message, or null when `expr` is a valid 5-field cron expression. */
export function validateCron(expr: string): string | null {
  if (typeof expr !== 'string') return `Expected a cron expression (${FIELD_NAMES}) as a string`;
  const text = expr.trim();
  if (text === '') return `Expected a cron expression (${FIELD_NAMES}), got an empty string`;
  if (text.startsWith('@')) {
    return (MACROS as readonly string[]).includes(text.toLowerCase())
      ? null
      : `Unknown cron macro "${text}"; use one of ${MACROS.join(', ')} or 5 fields (${FIELD_NAMES})`;
  }
  const fields = text.split(/\s+/);
  if (fields.length !== 5) {
    const why = fields.length === 6 ? '; seconds are not supported' : '';
    return `Expected a cron expression with 5 fields (${FIELD_NAMES}), got ${fields.length} in "${text}"${why}`;
  }
  if (fields.some((f) => /(^|[^A-Za-z])H([^A-Za-z]|$)/.test(f))) {
    return `Invalid cron expression "${text}": "H" (hashed) values are not standard cron`;
  }
  try {
    CronExpressionParser.parse(text, { currentDate: 0, tz: 'UTC' });
  } catch (err) {
    return `Invalid cron expression "${text}": ${errorMessage(err)}`;
  }
  return null;
}

/**
 * The first time the schedule fires strictly after `after` (epoch ms). Throws on an invalid expression
 * or when the expression never fires again.
 */
export function nextCronTime(expr: string, after: number, tz = 'UTC'): number {
  const problem = validateCron(expr);
  if (problem) throw new Error(problem);
  const text = expr.trim();
  const cron = CronExpressionParser.parse(text.startsWith('@') ? text.toLowerCase() : text, { currentDate: after, tz });
  return cron.next().getTime();
}
