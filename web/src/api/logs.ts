/**
 * Log lines of a job, or of a step's or run's whole subtree (merged in order by the server).
 */
import type { WireLogLevel, WireLogLine, WirePage } from '../../../src/wire/api.js';
import { requestJson } from './http.js';

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const satisfies readonly WireLogLevel[];
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LogLineView {
  id: number;
  jobId: number;
  stepId: number | null;
  level: LogLevel;
  message: string;
  at: number;
}

export function toLogLine(l: WireLogLine): LogLineView {
  return {
    id: l.id,
    jobId: l.job_id,
    stepId: l.step_id,
    level: l.level,
    message: l.message,
    at: l.at,
  };
}

export function levelAtLeast(level: LogLevel, min: LogLevel): boolean {
  return LOG_LEVELS.indexOf(level) >= LOG_LEVELS.indexOf(min);
}

/** The newest `limit` lines at or above `level`, newest first. */
export async function listRecentLogs(
  jobId: number,
  params: { level: LogLevel; limit: number },
  signal?: AbortSignal,
): Promise<{ lines: LogLineView[]; more: boolean }> {
  const page = await requestJson<WirePage<WireLogLine>>(`/jobs/${jobId}/logs`, {
    query: {
      level: params.level === 'debug' ? undefined : params.level,
      limit: params.limit,
      order: 'desc',
    },
    signal,
  });
  return { lines: page.data.map(toLogLine), more: page.next_cursor !== null };
}
