/**
 * Durations in step configs: a number of milliseconds, or a string such as "500ms", "10s", "1.5m", "2h".
 * Definitions are written by people, so "10s" reads better than 10000; both mean the same.
 */
import { z } from 'zod';

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;
const DURATION_RE = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)\s*$/;

/** Milliseconds for a duration string, or undefined when the string is not a duration. */
export function parseDuration(text: string): number | undefined {
  const m = DURATION_RE.exec(text);
  if (!m) return undefined;
  const unit = m[2] as keyof typeof UNIT_MS;
  return Math.round(Number(m[1]) * UNIT_MS[unit]);
}

/** A zod schema accepting milliseconds (non-negative integer) or a duration string; outputs milliseconds. */
export function durationSchema() {
  return z.union([
    z.number().int().nonnegative(),
    z.string().transform((text, ctx) => {
      const ms = parseDuration(text);
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: `"${text}" is not a duration; write e.g. 500, "500ms", "10s", "2m" or "1h"` });
        return z.NEVER;
      }
      return ms;
    }),
  ]);
}
