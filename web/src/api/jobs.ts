/**
 * Jobs: fetchers for one job, a page of jobs and a job's full values, the actions (cancel, retry,
 * rerun, delete), and the conversion from wire shapes (snake_case) to what views use.
 */
import type {
  WireAffected,
  WireCounts,
  WireDeleted,
  WireJob,
  WireJobDetail,
  WireJobKind,
  WirePage,
  WirePreview,
  WireProgress,
  WireStarted,
  WireStepPolicy,
} from '../../../src/wire/api.js';
import type { JobStatusChangePayload, ManagerProgressPayload, StepProgressPayload } from '../../../src/wire/live.js';
import type { Status } from '../status.js';
import { requestJson, requestText } from './http.js';

export interface ProgressView {
  status: Status;
  counts: WireCounts;
  /** Runs: their steps by status. */
  steps: WireCounts | null;
  ratePerSec: number;
  etaMs: number | null;
  startedAt: number | null;
  finishedAt: number | null;
  /** Server time of the pushed snapshot this came from (0 for a REST snapshot). */
  at: number;
}

export interface JobView {
  id: number;
  kind: WireJobKind;
  parentId: number | null;
  stepId: number | null;
  managerId: number;
  depth: number;
  type: string;
  name: string;
  status: Status;
  attempt: number;
  maxAttempts: number;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  payload: WirePreview | null;
  result: WirePreview | null;
  error: WirePreview | null;
  progress: ProgressView | null;
  step: {
    dependsOn: string[];
    description: string | null;
    policy: WireStepPolicy | null;
    planned: number | null;
  } | null;
  run: { definitionId: string; params: Record<string, unknown> } | null;
}

export interface JobDetailView extends JobView {
  retries: Array<{ at: number; fromStatus: Status; attempt: number }>;
}

export const EMPTY_COUNTS: WireCounts = {
  pending: 0,
  running: 0,
  completed: 0,
  failed: 0,
  cancelled: 0,
  total: 0,
};

export function toProgress(p: WireProgress): ProgressView {
  return {
    status: p.status,
    counts: p.counts,
    steps: p.steps ?? null,
    ratePerSec: p.rate_per_sec,
    etaMs: p.eta_ms,
    startedAt: p.started_at,
    finishedAt: p.finished_at,
    at: 0,
  };
}

export function toJob(j: WireJob): JobView {
  return {
    id: j.id,
    kind: j.kind,
    parentId: j.parent_id,
    stepId: j.step_id,
    managerId: j.manager_id,
    depth: j.depth,
    type: j.type,
    name: j.name,
    status: j.status,
    attempt: j.attempt,
    maxAttempts: j.max_attempts,
    createdAt: j.created_at,
    startedAt: j.started_at,
    finishedAt: j.finished_at,
    payload: j.payload ?? null,
    result: j.result ?? null,
    error: j.error ?? null,
    progress: j.progress ? toProgress(j.progress) : null,
    step: j.step
      ? {
          dependsOn: j.step.depends_on ?? [],
          description: j.step.description,
          policy: j.step.policy ?? null,
          planned: j.step.planned,
        }
      : null,
    run: j.run ? { definitionId: j.run.definition_id, params: j.run.params ?? {} } : null,
  };
}

export function toJobDetail(j: WireJobDetail): JobDetailView {
  return {
    ...toJob(j),
    retries: (j.retries ?? []).map((r) => ({
      at: r.at,
      fromStatus: r.from_status,
      attempt: r.attempt,
    })),
  };
}

/** A pushed step or run progress snapshot, as a ProgressView. */
export function progressFromPush(p: StepProgressPayload | ManagerProgressPayload): ProgressView {
  return {
    status: p.status,
    counts: {
      pending: p.pending,
      running: p.running,
      completed: p.completed,
      failed: p.failed,
      cancelled: p.cancelled,
      total: p.total,
    },
    steps: 'steps' in p ? p.steps : null,
    ratePerSec: p.rate_per_sec,
    etaMs: p.eta_ms,
    startedAt: p.started_at,
    finishedAt: p.finished_at,
    at: p.at,
  };
}

/**
 * A job with a pushed progress snapshot applied. Pushed snapshots are ordered by their server time
 * `at`; an older one (a message that crossed a REST reload) is ignored.
 */
export function withProgress<T extends Pick<JobView, 'status' | 'startedAt' | 'finishedAt' | 'progress'>>(
  job: T,
  p: StepProgressPayload | ManagerProgressPayload,
): T {
  if (job.progress && job.progress.at > p.at) return job;
  const progress = progressFromPush(p);
  return {
    ...job,
    status: p.status,
    startedAt: p.started_at ?? job.startedAt,
    finishedAt: p.finished_at,
    progress,
  };
}

/** A job with a pushed status change applied. */
export function withStatusChange<T extends JobView>(job: T, c: JobStatusChangePayload): T {
  return {
    ...job,
    status: c.status,
    attempt: c.attempt,
    startedAt: c.started_at,
    finishedAt: c.finished_at,
    error: c.error === null ? (c.status === 'failed' ? job.error : null) : { preview: c.error, bytes: c.error.length, truncated: false },
  };
}

export interface ListJobsQuery {
  parentId?: number | 'root';
  stepId?: number;
  managerId?: number;
  kind?: WireJobKind;
  statuses?: readonly Status[];
  q?: string;
  definitionId?: string;
  limit?: number;
  cursor?: string | null;
  /** Row to start at when there is no cursor (a jump into a long list); its next cursor continues from there. */
  offset?: number;
  order?: 'asc' | 'desc';
}

export interface JobPage {
  data: JobView[];
  nextCursor: string | null;
}

export async function listJobs(query: ListJobsQuery, signal?: AbortSignal): Promise<JobPage> {
  const page = await requestJson<WirePage<WireJob>>('/jobs', {
    query: {
      parent_id: query.parentId,
      step_id: query.stepId,
      manager_id: query.managerId,
      kind: query.kind,
      status: query.statuses,
      q: query.q?.trim(),
      definition_id: query.definitionId,
      limit: query.limit,
      cursor: query.cursor,
      offset: query.cursor ? undefined : query.offset || undefined,
      order: query.order,
    },
    signal,
  });
  return { data: page.data.map(toJob), nextCursor: page.next_cursor };
}

export async function getJob(id: number, signal?: AbortSignal): Promise<JobDetailView> {
  return toJobDetail(await requestJson<WireJobDetail>(`/jobs/${id}`, { signal }));
}

export type FullValue = 'payload' | 'result' | 'error';

/** The whole value behind a preview, as text (pretty-printed when it is JSON). */
export async function getFullValue(id: number, which: FullValue, signal?: AbortSignal): Promise<string> {
  const text = await requestText(`/jobs/${id}/${which}`, { signal });
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

export async function cancelJob(id: number): Promise<number> {
  return (
    await requestJson<WireAffected>(`/jobs/${id}/cancel`, {
      method: 'POST',
      body: {},
    })
  ).affected;
}

export async function retryJob(id: number): Promise<number> {
  return (
    await requestJson<WireAffected>(`/jobs/${id}/retry`, {
      method: 'POST',
      body: {},
    })
  ).affected;
}

export async function rerunJob(id: number): Promise<number> {
  return (
    await requestJson<WireStarted>(`/jobs/${id}/rerun`, {
      method: 'POST',
      body: {},
    })
  ).manager_id;
}

export async function deleteJob(id: number): Promise<{ jobs: number; logs: number }> {
  return (await requestJson<WireDeleted>(`/jobs/${id}`, { method: 'DELETE' })).affected;
}

/** Pretty JSON of a preview when it parses whole; otherwise the preview text as it is. */
export function previewText(p: WirePreview): string {
  if (p.truncated) return p.preview;
  try {
    return JSON.stringify(JSON.parse(p.preview), null, 2);
  } catch {
    return p.preview;
  }
}
