/**
 * The runs list's state: loaded pages of runs (newest first), with `manager_progress` pushes applied
 * in place.
 *
 * A push carries what the list filters on (status, definition, name) and the run's creation time,
 * so a run the list has not shown is placed without asking the server: it goes in at its place when
 * it matches the filters and falls within the loaded pages (newer than the oldest run loaded, or
 * anywhere once every page is loaded), and is left out otherwise. A run that starts to match later
 * (it completes under a "completed" filter) is placed by the push that says so. No request per run.
 *
 * Runs already shown stay (with their new status) when they stop matching, as a list under the
 * reader's eyes should not lose rows; a reload of the list drops them.
 *
 * When the list cannot decide alone — a server whose pushes lack the definition and creation time,
 * or a name search whose answer depends on how the database folds non-ASCII case — a push for a run
 * newer than the newest loaded marks `newerSeen`, and the page reloads its first page at most once
 * per HEAD_REFRESH_MS, however many runs start. A run that reload did not return is remembered with
 * its status and costs no other reload until its status changes.
 */
import type { ManagerProgressPayload, ServerMessage } from '../../../../src/wire/live.js';
import { progressFromPush, withProgress, type JobView, type ProgressView } from '../../api/jobs.js';
import type { RunsFilter } from '../../api/runs.js';
import type { Status } from '../../status.js';

/** What a row of the runs list shows. */
export interface RunItem {
  id: number;
  name: string;
  status: Status;
  definitionId: string | null;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  progress: ProgressView | null;
}

export interface RunsState {
  filter: RunsFilter;
  /** Newest first (by id, as the server lists them). */
  runs: RunItem[];
  nextCursor: string | null;
  newerSeen: boolean;
  /** Newer runs seen in pushes since the last reload of the first page, with their status. */
  unseen: ReadonlyMap<number, Status>;
  /** Newer runs a reload did not return, with the status they had then. */
  outside: ReadonlyMap<number, Status>;
}

export const HEAD_REFRESH_MS = 2000;
const MAX_OUTSIDE = 1000;

export function runItem(j: JobView): RunItem {
  return {
    id: j.id,
    name: j.name,
    status: j.status,
    definitionId: j.run?.definitionId ?? null,
    createdAt: j.createdAt,
    startedAt: j.startedAt,
    finishedAt: j.finishedAt,
    progress: j.progress,
  };
}

function runItemFromPush(p: ManagerProgressPayload): RunItem {
  return {
    id: p.manager_id,
    name: p.name,
    status: p.status,
    definitionId: p.definition_id,
    createdAt: p.created_at,
    startedAt: p.started_at,
    finishedAt: p.finished_at,
    progress: progressFromPush(p),
  };
}

export function sameFilter(a: RunsFilter, b: RunsFilter): boolean {
  return a.definitionId === b.definitionId && a.q === b.q && a.statuses.join(',') === b.statuses.join(',');
}

export function initialRuns(filter: RunsFilter, runs: JobView[], nextCursor: string | null): RunsState {
  return { filter, runs: runs.map(runItem), nextCursor, newerSeen: false, unseen: new Map(), outside: new Map() };
}

const asciiLower = (s: string): string => s.replace(/[A-Z]/g, (c) => c.toLowerCase());

/**
 * Whether `name` contains the search text as the server decides it (a case-insensitive substring):
 * SQLite's LIKE folds ASCII letters only, PostgreSQL's ILIKE folds all; null when the two disagree
 * (or NUL is involved), so the caller asks the server instead of guessing.
 */
export function nameMatches(name: string, q: string): boolean | null {
  const needle = q.trim();
  if (needle === '') return true;
  if (needle.includes('\u0000') || name.includes('\u0000')) return null;
  const ascii = asciiLower(name).includes(asciiLower(needle));
  const unicode = name.toLowerCase().includes(needle.toLowerCase());
  return ascii === unicode ? ascii : null;
}

/** Whether a pushed run belongs in a list with `filter`; null when the push cannot tell. */
export function runMatches(filter: RunsFilter, p: ManagerProgressPayload): boolean | null {
  // Pushes from a server that does not send placement data have no creation time.
  if (typeof p.created_at !== 'number' || !Number.isFinite(p.created_at)) return null;
  if (filter.statuses.length > 0 && !filter.statuses.includes(p.status)) return false;
  if (filter.definitionId !== '' && p.definition_id !== filter.definitionId) return false;
  return nameMatches(p.name, filter.q);
}

export function reduceRuns(state: RunsState, messages: ServerMessage[]): RunsState {
  let runs: RunItem[] | null = null;
  let unseen: Map<number, Status> | null = null;
  let placed = false;
  const index = new Map(state.runs.map((r, i) => [r.id, i]));
  const newest = state.runs[0]?.id ?? 0;
  // Runs newer than the oldest loaded one fall within the loaded pages (all of them once no page is left).
  const oldest = state.nextCursor === null ? 0 : (state.runs.at(-1)?.id ?? Number.MAX_SAFE_INTEGER);
  for (const m of messages) {
    if (m.type !== 'manager_progress') continue;
    const p = m.payload;
    const id = p.manager_id;
    const i = index.get(id);
    if (i !== undefined) {
      runs ??= [...state.runs];
      runs[i] = withProgress(runs[i]!, p);
      continue;
    }
    if (id <= oldest) continue;
    const verdict = runMatches(state.filter, p);
    if (verdict === true) {
      runs ??= [...state.runs];
      index.set(id, runs.length);
      runs.push(runItemFromPush(p));
      placed = true;
    } else if (verdict === null && id > newest && state.outside.get(id) !== p.status && (unseen ?? state.unseen).get(id) !== p.status) {
      unseen ??= new Map(state.unseen);
      unseen.set(id, p.status);
    }
  }
  if (runs === null && unseen === null) return state;
  if (runs !== null && placed) runs.sort((a, b) => b.id - a.id);
  return {
    ...state,
    runs: runs ?? state.runs,
    unseen: unseen ?? state.unseen,
    newerSeen: state.newerSeen || (unseen !== null && unseen.size > 0),
  };
}

/** The first page again, merged in front of what is loaded (ids are unique; the fresh copy wins). */
export function mergeHead(state: RunsState, head: JobView[]): RunsState {
  const fresh = new Map(head.map((r) => [r.id, runItem(r)]));
  const rest = state.runs.filter((r) => !fresh.has(r.id));
  const runs = [...fresh.values(), ...rest].sort((a, b) => b.id - a.id);
  const outside = new Map(state.outside);
  for (const [id, status] of state.unseen) if (!fresh.has(id)) outside.set(id, status);
  while (outside.size > MAX_OUTSIDE) outside.delete(outside.keys().next().value!);
  return { ...state, runs, newerSeen: false, unseen: new Map(), outside };
}

/** The next page, after what is loaded (runs placed by pushes meanwhile are not repeated). */
export function appendPage(state: RunsState, page: JobView[], nextCursor: string | null): RunsState {
  const have = new Set(state.runs.map((r) => r.id));
  return { ...state, runs: [...state.runs, ...page.filter((r) => !have.has(r.id)).map(runItem)], nextCursor };
}
