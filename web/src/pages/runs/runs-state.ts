/**
 * The runs list's state: loaded pages of runs, with `manager_progress` pushes applied in place.
 *
 * A push for a run newer than the newest loaded one marks `newerSeen`; the page then reloads its
 * first page, at most once per HEAD_REFRESH_MS, however many runs start (never per message). A new
 * run that the reload did not return (it does not match the filters) is remembered with its status
 * and triggers no other reload until its status changes, so a long run outside the filter does not
 * turn the list into a poller.
 */
import type { ServerMessage } from '../../../../src/wire/live.js';
import { withProgress, type JobView } from '../../api/jobs.js';
import type { Status } from '../../status.js';

export interface RunsState {
  runs: JobView[];
  nextCursor: string | null;
  newerSeen: boolean;
  /** Newer runs seen in pushes since the last reload of the first page, with their status. */
  unseen: ReadonlyMap<number, Status>;
  /** Newer runs a reload did not return, with the status they had then. */
  outside: ReadonlyMap<number, Status>;
}

export const HEAD_REFRESH_MS = 2000;
const MAX_OUTSIDE = 1000;

export function initialRuns(runs: JobView[], nextCursor: string | null): RunsState {
  return { runs, nextCursor, newerSeen: false, unseen: new Map(), outside: new Map() };
}

export function reduceRuns(state: RunsState, messages: ServerMessage[]): RunsState {
  let runs: JobView[] | null = null;
  let unseen: Map<number, Status> | null = null;
  const index = new Map(state.runs.map((r, i) => [r.id, i]));
  const newest = state.runs.reduce((m, r) => Math.max(m, r.id), 0);
  for (const m of messages) {
    if (m.type !== 'manager_progress' && m.type !== 'job_status_change') continue;
    const id = m.type === 'manager_progress' ? m.payload.manager_id : m.payload.kind === 'manager' ? m.payload.job_id : null;
    if (id === null) continue;
    const i = index.get(id);
    if (i === undefined) {
      const status = m.payload.status;
      if (id > newest && state.outside.get(id) !== status && (unseen ?? state.unseen).get(id) !== status) {
        unseen ??= new Map(state.unseen);
        unseen.set(id, status);
      }
      continue;
    }
    runs ??= [...state.runs];
    const run = runs[i]!;
    if (m.type === 'manager_progress') {
      runs[i] = withProgress(run, m.payload);
    } else {
      runs[i] = { ...run, status: m.payload.status, startedAt: m.payload.started_at, finishedAt: m.payload.finished_at };
    }
  }
  if (runs === null && unseen === null) return state;
  return {
    ...state,
    runs: runs ?? state.runs,
    unseen: unseen ?? state.unseen,
    newerSeen: state.newerSeen || (unseen !== null && unseen.size > 0),
  };
}

/** The first page again, merged in front of what is loaded (ids are unique; the fresh copy wins). */
export function mergeHead(state: RunsState, head: JobView[]): RunsState {
  const fresh = new Map(head.map((r) => [r.id, r]));
  const rest = state.runs.filter((r) => !fresh.has(r.id));
  const runs = [...head, ...rest].sort((a, b) => b.id - a.id);
  const outside = new Map(state.outside);
  for (const [id, status] of state.unseen) if (!fresh.has(id)) outside.set(id, status);
  while (outside.size > MAX_OUTSIDE) outside.delete(outside.keys().next().value!);
  return { ...state, runs, newerSeen: false, unseen: new Map(), outside };
}
