/**
 * Durations as written in definitions: "500ms", "10s", "30m", "1h", "1h30m", "2d", or a TOML integer
 * of milliseconds. Components go from the largest unit to the smallest, each unit at most once, so a
 * value has one reading ("1m30s", never "30s1m").
 */
import { describeValue } from './issues.js';

const UNIT_MS = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000, ms: 1 } as const;
type Unit = keyof typeof UNIT_MS;
/** Largest first: the order components must appear in, and the order formatDuration writes them. */
const UNITS: readonly Unit[] = ['d', 'h', 'm', 's', 'ms'];

// `ms` must be tried before `m`, so the alternation lists it first.
const COMPONENT = /(\d+(?:\.\d+)?)\s*(ms|d|h|m|s)/y;

export const DURATION_HINT = 'a duration like "500ms", "10s", "30m" or "1h30m" (units ms, s, m, h, d)';

function invalid(found: unknown, why?: string): Error {
  return new Error(`Expected ${DURATION_HINT}, got ${describeValue(found)}${why ? ` (${why})` : ''}`);
}

/** Milliseconds of a duration; throws an Error whose message says what was expected and found. */
export function parseDuration(text: string | number): number {
  if (typeof text === 'number') {
    if (!Number.isSafeInteger(text) || text < 0) throw invalid(text, 'a number is read as whole milliseconds ≥ 0');
    return text;
  }
  if (typeof text !== 'string') throw invalid(text);
  const source = text.trim();
  if (source === '') throw invalid(text);
  if (/^\d+(\.\d+)?$/.test(source)) throw invalid(text, `add a unit, e.g. "${source}ms" or "${source}s"`);
  let total = 0;
  let pos = 0;
  let lastRank = -1;
  while (pos < source.length) {
    COMPONENT.lastIndex = pos;
    const m = COMPONENT.exec(source);
    if (!m) throw invalid(text);
    const unit = m[2] as Unit;
    const rank = UNITS.indexOf(unit);
    if (rank <= lastRank) throw invalid(text, 'write units from largest to smallest, each once');
    lastRank = rank;
    total += Number(m[1]) * UNIT_MS[unit];
    pos = COMPONENT.lastIndex;
    while (source[pos] === ' ') pos++;
  }
  const ms = Math.round(total);
  if (!Number.isSafeInteger(ms)) throw invalid(text, 'too large');
  return ms;
}

/** "1h30m", "1s500ms", "0ms": the shortest text that parseDuration reads back as the same value. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  let rest = Math.round(Math.abs(ms));
  if (rest === 0) return '0ms';
  let out = ms < 0 ? '-' : '';
  for (const unit of UNITS) {
    const size = UNIT_MS[unit];
    const n = Math.floor(rest / size);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * size;
    }
  }
  return out;
}
