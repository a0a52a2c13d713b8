/**
 * Events are state, not commands: every message carries a snapshot (a job's current status, a step's
 * current counts), so merging or dropping intermediate ones is always safe.
 */
import type { JobKind, JobStatus, LogLevel } from './job.js';
import type { Counts } from './progress.js';

export interface JobStatusChange {
  jobId: number;
  parentId: number | null;
  stepId: number | null;
  managerId: number;
  kind: JobKind;
  type: string;
  name: string;
  status: JobStatus;
  attempt: number;
  startedAt: number | null;
  finishedAt: number | null;
  /** A preview of the error (capped), or null. */
  error: string | null;
}

export interface StepProgress {
  stepId: number;
  managerId: number;
  name: string;
  status: JobStatus;
  counts: Counts;
  ratePerSec: number;
  etaMs: number | null;
  startedAt: number | null;
  finishedAt: number | null;
  at: number;
}

export interface ManagerProgress {
  managerId: number;
  name: string;
  definitionId: string | null;
  createdAt: number;
  status: JobStatus;
  /** Worker jobs of the whole run by status (the sum of its steps' counts). */
  counts: Counts;
  /** The run's steps by status. */
  steps: Counts;
  ratePerSec: number;
  etaMs: number | null;
  startedAt: number | null;
  finishedAt: number | null;
  at: number;
}

export interface JobLogBatch {
  jobId: number;
  stepId: number | null;
  managerId: number;
  lines: Array<{ id: number; jobId: number; level: LogLevel; message: string; at: number }>;
}

export interface JobProgressNote {
  jobId: number;
  stepId: number | null;
  managerId: number;
  progress: { done?: number; total?: number; message?: string };
}

export interface StepqEvents {
  job_status_change: JobStatusChange;
  step_progress: StepProgress;
  manager_progress: ManagerProgress;
  job_log: JobLogBatch;
  job_progress: JobProgressNote;
  /** Manager counts by status changed (a run started or ended). */
  stats_change: { at: number };
  /** Jobs whose lease had expired were reclaimed (retried or failed). */
  lease_rescue: { count: number; at: number };
}

export type StepqEventName = keyof StepqEvents;
