/**
 * The runs list's state: loaded pages of runs, with `manager_progress` pushes applied in place.
 * A push for a run newer than the newest loaded one marks `newerSeen`; the page then reloads its
 * first page, at most once per HEAD_REFRESH_MS, however many runs start (never per message).
 */
import type { ServerMessage } from '../../../../src/wire/live.js';
import { withProgress, type JobView } from '../../api/jobs.js';
import type { RunsFilter } from '../../api/runs.js';

export interface RunsState {
  runs: JobView[];
  nextCursor: string | null;
  newerSeen: boolean;
}

export const HEAD_REFRESH_MS = 2000;

export function matchesFilter(run: JobView, filter: RunsFilter): boolean {
  return filter.statuses.length === 0 || filter.statuses.includes(run.status);
}

export function reduceRuns(state: RunsState, messages: ServerMessage[]): RunsState {
  let runs: JobView[] | null = null;
  let newerSeen = state.newerSeen;
  const index = new Map(state.runs.map((r, i) => [r.id, i]));
  const newest = state.runs.reduce((m, r) => Math.max(m, r.id), 0);
  for (const m of messages) {
    if (m.type !== 'manager_progress' && m.type !== 'job_status_change') continue;
    const id = m.type === 'manager_progress' ? m.payload.manager_id : m.payload.kind === 'manager' ? m.payload.job_id : null;
    if (id === null) continue;
    const i = index.get(id);
    if (i === undefined) {
      if (id > newest) newerSeen = true;
      continue;
    }
    runs ??= [...state.runs];
    const run = runs[i]!;
    if (m.type === 'manager_progress') {
      runs[i] = withProgress(run, m.payload);
    } else {
      runs[i] = {
        ...run,
        status: m.payload.status,
        startedAt: m.payload.started_at,
        finishedAt: m.payload.finished_at,
      };
    }
  }
  if (runs === null && newerSeen === state.newerSeen) return state;
  return { ...state, runs: runs ?? state.runs, newerSeen };
}

/** The first page again, merged in front of what is loaded (ids are unique; the fresh copy wins). */
export function mergeHead(state: RunsState, head: JobView[]): RunsState {
  const fresh = new Map(head.map((r) => [r.id, r]));
  const rest = state.runs.filter((r) => !fresh.has(r.id));
  const runs = [...head, ...rest].sort((a, b) => b.id - a.id);
  return { ...state, runs, newerSeen: false };
}
