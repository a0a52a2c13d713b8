/**
 * The job model shared by every layer. A run is a tree of jobs:
 *
 * - a `manager` job per run (parent_id = null, depth 0),
 * - a `step` job per step of the definition (parent = manager, depth 1),
 * - `worker` jobs under a step: planned by the step type (parent = step) or spawned by another worker
 *   job (parent = that job). Every worker row keeps `step_id` and `manager_id`, so "all jobs of a step"
 *   and "everything in a run" are index look-ups, never recursive walks.
 *
 * Times are epoch milliseconds everywhere.
 */

export const JOB_KINDS = ['manager', 'step', 'worker'] as const;
export type JobKind = (typeof JOB_KINDS)[number];

/**
 * `pending`: waiting to be claimed (a step waiting for its dependencies is pending with `runAt = null`).
 * `running`: claimed under a lease (worker jobs, planning steps) or in progress (managers, planned steps).
 * `completed` / `failed` / `cancelled`: terminal; only an explicit retry moves a job out of them.
 */
export const JOB_STATUSES = ['pending', 'running', 'completed', 'failed', 'cancelled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

export const TERMINAL_STATUSES = ['completed', 'failed', 'cancelled'] as const satisfies readonly JobStatus[];
export type TerminalStatus = (typeof TERMINAL_STATUSES)[number];

export function isTerminal(status: JobStatus): status is TerminalStatus {
  return status === 'completed' || status === 'failed' || status === 'cancelled';
}

export function isJobStatus(value: string): value is JobStatus {
  return (JOB_STATUSES as readonly string[]).includes(value);
}

/** Why a job was cancelled: a retry re-queues jobs cancelled by a failure cascade, never a user's cancel. */
export const CANCEL_CAUSES = ['user', 'failure', 'timeout', 'dependency'] as const;
export type CancelCause = (typeof CANCEL_CAUSES)[number];

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** One job row as the store returns it. */
export interface Job {
  id: number;
  kind: JobKind;
  parentId: number | null;
  stepId: number | null;
  managerId: number;
  depth: number;
  type: string;
  name: string;
  key: string | null;
  status: JobStatus;
  attempt: number;
  maxAttempts: number;
  priority: number;
  runAt: number | null;
  timeoutMs: number | null;
  leaseOwner: string | null;
  leaseExpiresAt: number | null;
  payload: JsonValue;
  result: JsonValue;
  error: string | null;
  cancelCause: CancelCause | null;
  /** Steps: how many worker jobs planning created, or null while planning has not finished. */
  planned: number | null;
  /** Managers: the definition that ran. */
  definitionId: string | null;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
}

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LogLine {
  id: number;
  jobId: number;
  stepId: number | null;
  managerId: number;
  level: LogLevel;
  message: string;
  at: number;
}

export type NewLogLine = Omit<LogLine, 'id'>;
