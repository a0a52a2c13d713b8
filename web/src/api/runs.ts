/**
 * Runs (manager jobs): the runs list and one run with its steps.
 */
import type { Status } from '../status.js';
import { getJob, listJobs, type JobDetailView, type JobPage, type JobView } from './jobs.js';

export const RUNS_PAGE_SIZE = 50;

export interface RunsFilter {
  statuses: Status[];
  definitionId: string;
  q: string;
}

export function listRuns(filter: RunsFilter, cursor: string | null, signal?: AbortSignal): Promise<JobPage> {
  return listJobs(
    {
      parentId: 'root',
      statuses: filter.statuses,
      definitionId: filter.definitionId || undefined,
      q: filter.q || undefined,
      limit: RUNS_PAGE_SIZE,
      cursor,
      order: 'desc',
    },
    signal,
  );
}

export interface RunSnapshot {
  run: JobDetailView;
  steps: JobView[];
}

/** Steps of a run are few (one per step of the definition); this reads them all, in pages of 200. */
export async function getRunSnapshot(runId: number, signal?: AbortSignal): Promise<RunSnapshot> {
  const [run, steps] = await Promise.all([getJob(runId, signal), listAllSteps(runId, signal)]);
  return { run, steps };
}

async function listAllSteps(runId: number, signal?: AbortSignal): Promise<JobView[]> {
  const steps: JobView[] = [];
  let cursor: string | null = null;
  for (let i = 0; i < 50; i++) {
    const page: JobPage = await listJobs({ parentId: runId, kind: 'step', limit: 200, cursor, order: 'asc' }, signal);
    steps.push(...page.data);
    cursor = page.nextCursor;
    if (cursor === null) break;
  }
  return steps;
}
