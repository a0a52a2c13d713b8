/**
 * The in-memory tail of an events panel: pushed `job_log` lines merged into what is loaded, newest
 * first, deduplicated by id, filtered by level, and capped at MAX_LINES (per panel).
 */
import type { ServerMessage } from '../../../src/wire/live.js';
import { levelAtLeast, toLogLine, type LogLevel, type LogLineView } from '../api/logs.js';

export const MAX_LINES = 1000;

export interface LogState {
  lines: LogLineView[];
  /** Lines the server left out of the live stream (too many at once). */
  dropped: number;
  /** More lines exist before the loaded ones. */
  more: boolean;
}

export function mergeLogLines(state: LogState, messages: ServerMessage[], minLevel: LogLevel): LogState {
  let incoming: LogLineView[] = [];
  let dropped = state.dropped;
  for (const m of messages) {
    if (m.type !== 'job_log') continue;
    dropped += m.payload.dropped;
    for (const l of m.payload.lines) {
      const line = toLogLine(l);
      if (levelAtLeast(line.level, minLevel)) incoming.push(line);
    }
  }
  if (incoming.length === 0 && dropped === state.dropped) return state;
  const seen = new Set(state.lines.map((l) => l.id));
  incoming = incoming.filter((l) => !seen.has(l.id));
  // Newest first: by time, then by id (lines of one millisecond keep their order).
  incoming.sort((a, b) => b.at - a.at || b.id - a.id);
  const lines = incoming.length > 0 ? [...incoming, ...state.lines] : state.lines;
  if (incoming.length > 0 && state.lines.length > 0 && incoming.at(-1)!.at < state.lines[0]!.at) {
    lines.sort((a, b) => b.at - a.at || b.id - a.id);
  }
  return {
    lines: lines.length > MAX_LINES ? lines.slice(0, MAX_LINES) : lines,
    dropped,
    more: state.more || lines.length > MAX_LINES,
  };
}
