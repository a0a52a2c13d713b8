/**
 * The Store port: every durable operation of stepq, as verbs of the domain. SQLite (the embedded
 * default) and PostgreSQL implement it with the same names and pass the same contract suite
 * (test/store-contract/).
 *
 * Rules every implementation follows:
 * - Each transition is one guarded statement per job (by id, expected status and, for leased jobs,
 *   lease token); rows that did not match are reported, never silently changed.
 * - Progress counters change in the same transaction as the job rows they count.
 * - A step ends when its last descendant ends: in that same transaction (SQLite, one writer), or in a
 *   short transaction under the step's lock right after its commit and before the call returns
 *   (PostgreSQL, where concurrent writers each see the other's last job still active; see
 *   postgres/ARCHITECTURE.md). The run's next steps are released, or the run ends, the same way, by
 *   the rules in core/lifecycle.ts. The sweep ends what a crash in between left behind.
 * - Every mutation returns its `Effects`: the status changes and progress snapshots the engine
 *   publishes as events after the commit.
 */
import type { CancelCause, Job, JobKind, JobStatus, JsonValue, LogLevel, LogLine, NewLogLine } from '../core/job.js';
import type { StepPolicy } from '../core/lifecycle.js';
import type { Counts } from '../core/progress.js';
import type { WorkerSpec } from '../core/step-type.js';

export interface StoreCapabilities {
  dialect: 'sqlite' | 'postgres';
  /** True when several processes may share this store (and events must cross process boundaries). */
  multiProcess: boolean;
}

/** A status change of one job, as published in `job_status_change`. */
export interface JobChange {
  id: number;
  kind: JobKind;
  parentId: number | null;
  stepId: number | null;
  managerId: number;
  type: string;
  name: string;
  status: JobStatus;
  attempt: number;
  startedAt: number | null;
  finishedAt: number | null;
  error: string | null;
}

export interface StepSnapshot {
  stepId: number;
  managerId: number;
  name: string;
  status: JobStatus;
  counts: Counts;
  startedAt: number | null;
  finishedAt: number | null;
}

export interface ManagerSnapshot {
  managerId: number;
  name: string;
  definitionId: string | null;
  createdAt: number;
  status: JobStatus;
  counts: Counts;
  steps: Counts;
  startedAt: number | null;
  finishedAt: number | null;
}

/** What a mutation changed: published as events once its transaction committed. */
export interface Effects {
  jobs: JobChange[];
  steps: StepSnapshot[];
  managers: ManagerSnapshot[];
  /** True when a manager changed status (global run stats moved). */
  statsChanged: boolean;
}

export interface NewStep {
  name: string;
  type: string;
  description?: string;
  dependsOn: string[];
  policy: StepPolicy;
  config: JsonValue;
}

export interface NewRun {
  definitionId: string;
  name: string;
  params: Record<string, JsonValue>;
  /** The definition as it was when the run started (a re-run reads the current one). */
  definition: JsonValue;
  timeoutMs: number | null;
  steps: NewStep[];
}

/** The payload stored on a step job row. */
export interface StepPayload {
  type: string;
  config: JsonValue;
  policy: StepPolicy;
  dependsOn: string[];
  description?: string;
  /** Set once planning finished: from then on the step ends when its last descendant ends. */
  planned?: number;
}

/** The payload stored on a manager job row. */
export interface ManagerPayload {
  definitionId: string;
  params: Record<string, JsonValue>;
  definition: JsonValue;
  timeoutMs: number | null;
}

export interface ClaimedJob {
  id: number;
  kind: 'step' | 'worker';
  type: string;
  name: string;
  payload: JsonValue;
  attempt: number;
  maxAttempts: number;
  timeoutMs: number | null;
  depth: number;
  parentId: number | null;
  /** For a step job (planning), its own id. */
  stepId: number;
  managerId: number;
  leaseToken: string;
}

export type Acknowledgement =
  | { id: number; token: string; status: 'completed'; result: JsonValue }
  | {
      id: number;
      token: string;
      status: 'failed';
      error: string;
      /**
       * When set, the job goes back to pending with attempt + 1, runnable this many milliseconds
       * after the acknowledgement commits (measured on the store's clock, not the worker's).
       */
      retryInMs: number | null;
    };

export interface JobFilter {
  /** `null` = root jobs (managers). */
  parentId?: number | null;
  stepId?: number;
  managerId?: number;
  kind?: JobKind;
  status?: JobStatus[];
  /** Case-insensitive substring of the name. */
  q?: string;
  definitionId?: string;
  /** Only these jobs (at most a page of them: a client's visible rows). */
  ids?: number[];
}

/** The start of a possibly large text value, and its full size in bytes. */
export interface TextHead {
  head: string;
  bytes: number;
}

/**
 * A job as lists show it: worker payloads, results and errors only as heads, so that a list stays
 * fast whatever their size (a 10 MB result must not slow a page of 50 jobs).
 */
export interface JobSummary extends Omit<Job, 'payload' | 'result' | 'error'> {
  /** Managers and steps: the whole payload (params, step config: small). Workers: null. */
  payload: JsonValue;
  heads: { payload: TextHead; result: TextHead | null; error: TextHead | null };
}

export interface Page<T> {
  data: T[];
  nextCursor: string | null;
}

export interface LogFilter {
  /** Logs of this job only, or of its whole subtree when it is a manager or a step. */
  jobId: number;
  level?: LogLevel;
  cursor?: string;
  limit: number;
  /** `asc` (oldest first, the default) or `desc` (newest first). */
  order?: 'asc' | 'desc';
}

export interface StoredDefinition {
  id: string;
  name: string;
  source: string;
  format: 'toml' | 'json';
  file: string | null;
  updatedAt: number;
}

export interface Store {
  readonly capabilities: StoreCapabilities;

  /** Applies pending migrations (idempotent; safe when several processes start at once). */
  migrate(): Promise<void>;
  close(): Promise<void>;
  /** The clock leases are compared against (the database's, for stores shared between machines). */
  now(): Promise<number>;

  // ---- runs and fan-out -------------------------------------------------------------------
  createRun(run: NewRun): Promise<{ manager: Job; steps: Job[]; effects: Effects }>;
  /**
   * Inserts worker jobs under a step, in one transaction. `parentId` is the step itself (planning) or
   * a running worker job (spawn); `token` is the lease token of whichever of the two is inserting, so a
   * process that lost its lease cannot add work. Jobs whose key already exists in the step are skipped.
   */
  enqueueMany(params: {
    stepId: number;
    parentId: number;
    token: string;
    jobs: WorkerSpec[];
    /** Name prefix and first sequence number for jobs without a name or key. */
    seq?: number;
  }): Promise<{ inserted: number; effects: Effects }>;
  /** Planning ended: the step now ends when its last worker job ends (possibly at once). */
  markPlanned(params: { stepId: number; token: string; planned: number }): Promise<Effects>;

  // ---- leases ------------------------------------------------------------------------------
  /** `managerId`: claim only jobs of that run (`stepq run` works on its own run, not on others'). */
  claim(params: {
    owner: string;
    limit: number;
    leaseMs: number;
    types?: string[];
    managerId?: number;
  }): Promise<{ jobs: ClaimedJob[]; effects: Effects }>;
  /** Extends the leases `owner` holds on `ids`; returns the ids still held (others were lost or cancelled). */
  heartbeat(params: { owner: string; leaseMs: number; ids: number[] }): Promise<{ held: number[] }>;
  acknowledge(params: { acks: Acknowledgement[] }): Promise<{ lost: number[]; effects: Effects }>;
  /** Hands running jobs back (graceful shutdown) without spending an attempt. */
  release(params: { owner: string; ids: number[] }): Promise<{ affected: number; effects: Effects }>;
  /**
   * Running jobs whose lease expired: retried (attempt + 1, after backoff) while attempts remain,
   * else failed with ERR_LEASE_EXPIRED. Expired planning steps go back to pending (planning is
   * idempotent through job keys).
   */
  rescueExpiredLeases(params: { limit: number }): Promise<{ affected: number; effects: Effects }>;
  /**
   * The safety net: ends steps whose jobs all ended but were not settled (a crash between commits),
   * and fails runs past their deadline.
   */
  sweep(): Promise<Effects>;

  // ---- actions -----------------------------------------------------------------------------
  /** Cancels a job and all its non-terminal descendants, set-based; the tree above re-evaluates. */
  cancel(params: { id: number; cause?: CancelCause; reason?: string }): Promise<{ affected: number; effects: Effects }>;
  /**
   * Retries the failed worker jobs under a manager, a step or one job (and the jobs a failure
   * cascade cancelled): back to pending with attempt + 1, recorded; the step and run reopen.
   */
  retry(params: { id: number }): Promise<{ affected: number; effects: Effects }>;
  /** Deletes a finished run with all its jobs and logs; refused (ERR_RUN_ACTIVE) while it runs. */
  deleteRun(params: { managerId: number }): Promise<{ jobs: number; logs: number; effects: Effects }>;

  // ---- reads -------------------------------------------------------------------------------
  getJob(id: number): Promise<Job | null>;
  listJobs(params: JobFilter & { limit: number; cursor?: string; order?: 'asc' | 'desc' }): Promise<Page<Job>>;
  /** listJobs for display: large values cut to `headChars` characters in the database. */
  /**
   * listJobs for display: large values cut to `headChars` characters in the database. `offset`
   * (instead of a cursor) jumps to a row of a long list, e.g. the middle of a million-job step.
   */
  listJobSummaries(
    params: JobFilter & { limit: number; cursor?: string; offset?: number; order?: 'asc' | 'desc'; headChars: number },
  ): Promise<Page<JobSummary>>;
  getStepSnapshot(stepId: number): Promise<StepSnapshot | null>;
  getManagerSnapshot(managerId: number): Promise<ManagerSnapshot | null>;
  /** Counts of worker jobs under a job: a step's or a run's from counters, a worker's subtree counted. */
  getProgress(id: number): Promise<Counts | null>;
  /** Runs (managers) and all worker jobs by status, from counters. */
  getStats(): Promise<{ runs: Counts; jobs: Counts }>;
  /** Retries recorded for a job (the audit trail of terminal → pending). */
  listRetries(jobId: number): Promise<Array<{ at: number; fromStatus: JobStatus; attempt: number }>>;

  // ---- logs --------------------------------------------------------------------------------
  appendLogs(lines: NewLogLine[]): Promise<LogLine[]>;
  listLogs(filter: LogFilter): Promise<Page<LogLine>>;

  // ---- definitions and schedules ------------------------------------------------------------
  saveDefinition(def: Omit<StoredDefinition, 'updatedAt'>): Promise<StoredDefinition>;
  getDefinition(id: string): Promise<StoredDefinition | null>;
  listDefinitions(): Promise<StoredDefinition[]>;
  deleteDefinition(id: string): Promise<boolean>;
  /**
   * Moves a schedule's next fire time forward if it still is `expected`; true when this process won
   * the right to start the run (several processes may race on one schedule).
   */
  advanceSchedule(params: { definitionId: string; expected: number | null; next: number }): Promise<boolean>;
  getSchedule(definitionId: string): Promise<number | null>;
}

/** The step payload of a step job row (written by createRun). */
export function stepPayloadOf(step: Job): StepPayload {
  return step.payload as unknown as StepPayload;
}

/** The manager payload of a manager job row (written by createRun). */
export function managerPayloadOf(manager: Job): ManagerPayload {
  return manager.payload as unknown as ManagerPayload;
}

export function emptyEffects(): Effects {
  return { jobs: [], steps: [], managers: [], statsChanged: false };
}
