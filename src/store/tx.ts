/**
 * What one dialect must offer inside a transaction. The store's logic (mutations.ts, settle.ts) is
 * written once against this interface; each dialect implements it with its own SQL (queries.ts, same
 * names in both). Methods work on batches so that one job never costs a round trip of its own.
 */
import type { CancelCause, Job, JobKind, JobStatus } from '../core/job.js';
import type { Counts } from '../core/progress.js';
import type { CounterDeltas } from '../core/progress.js';
import type { JobChange, ManagerSnapshot, StepSnapshot } from './store.js';

/** `w`: worker jobs under a step or manager; `s`: steps of a manager; `m`: all managers (owner 0). */
export type CounterScope = 'w' | 's' | 'm';

export interface NewJobRow {
  kind: JobKind;
  parentId: number | null;
  stepId: number | null;
  /** Ignored for a manager row: a manager's manager_id is its own id. */
  managerId: number;
  depth: number;
  type: string;
  name: string;
  key: string | null;
  status: JobStatus;
  maxAttempts: number;
  priority: number;
  runAt: number | null;
  timeoutMs: number | null;
  /** 1 when the job's step limits its concurrency (claimed through the step's own lane). */
  lane: 0 | 1;
  /** Steps only: max running worker jobs. */
  concurrency: number | null;
  /** JSON text. */
  payload: string;
  definitionId: string | null;
  startedAt: number | null;
}

/** A job row with the columns only the store and the worker pool may see. */
export interface JobRow extends Job {
  leaseToken: string | null;
}

/** A job that changed status, with the status it had before. */
export interface ChangedRow extends JobChange {
  prevStatus: JobStatus;
}

export interface ClaimedRow extends ChangedRow {
  payloadText: string;
  maxAttempts: number;
  timeoutMs: number | null;
  depth: number;
  leaseToken: string;
}

export interface LeaseAck {
  id: number;
  token: string;
}

/** Which worker jobs a set-based action touches. */
export type WorkerScope = { managerId: number } | { stepId: number } | { ids: number[] };

export interface StoreTx {
  /** This transaction's time (the database clock for shared stores). */
  readonly now: number;

  /**
   * Called first by a transaction that will insert worker jobs spawned by a worker of `stepId`: keeps
   * a set-based cancellation of that step (or its run) from committing meanwhile, and makes one that
   * committed before visible to the statements that follow. PostgreSQL takes a shared per-step
   * advisory lock; dialects whose transactions run one at a time (SQLite) need nothing.
   */
  fenceInserts?(stepId: number): Promise<void>;

  /**
   * When present, settleSteps does not judge the steps here: it hands their ids to the store, which
   * reads their counters after this transaction commits and settles, in a transaction of its own,
   * those that may have ended (mutations.settleAfterCommit; the argument is in settle.ts). Dialects
   * whose transactions run one at a time (SQLite) leave it out and settle in place.
   */
  deferSettle?(stepIds: number[]): void;

  insertJob(row: NewJobRow): Promise<number>;
  /** Inserts worker rows, skipping those whose (step_id, key) exists; returns how many were inserted. */
  insertWorkers(rows: NewJobRow[]): Promise<number>;
  initCounters(ownerId: number, scopes: CounterScope[]): Promise<void>;
  addCounters(deltas: CounterDeltas, scope: CounterScope): Promise<void>;
  getCounters(ownerIds: number[], scope: CounterScope): Promise<Map<number, Counts>>;

  /** `lock`: hold the row until commit (PostgreSQL `FOR UPDATE`; SQLite holds the whole database). */
  getJob(id: number, opts?: { lock?: boolean }): Promise<JobRow | null>;
  stepsOfRun(managerId: number, opts?: { lock?: boolean }): Promise<JobRow[]>;
  /** Ids of every descendant of a job (not the job itself). */
  descendantIds(jobId: number): Promise<number[]>;

  /** `managerId`: only jobs of that run (takes precedence over `types`). */
  claimJobs(params: {
    owner: string;
    token: string;
    expiresAt: number;
    limit: number;
    types?: string[];
    managerId?: number;
  }): Promise<ClaimedRow[]>;
  /** Running steps with a concurrency limit that have free slots and pending jobs. */
  limitedStepsWithRoom(managerId?: number): Promise<Array<{ stepId: number; free: number }>>;
  claimFromStep(params: {
    stepId: number;
    owner: string;
    token: string;
    expiresAt: number;
    limit: number;
    types?: string[];
  }): Promise<ClaimedRow[]>;

  completeJobs(acks: Array<LeaseAck & { result: string }>): Promise<ChangedRow[]>;
  failJobs(acks: Array<LeaseAck & { error: string }>): Promise<ChangedRow[]>;
  backoffJobs(acks: Array<LeaseAck & { error: string; runAt: number }>): Promise<ChangedRow[]>;
  extendLeases(owner: string, ids: number[], expiresAt: number): Promise<number[]>;
  releaseJobs(owner: string, ids: number[]): Promise<ChangedRow[]>;
  expiredLeases(limit: number): Promise<JobRow[]>;
  /** Lease-expiry outcomes chosen per job by the caller (attempts left → pending, else failed). */
  rescueJobs(rows: Array<{ id: number; token: string; to: 'pending' | 'failed'; runAt: number; error: string }>): Promise<ChangedRow[]>;

  /** Cancels non-terminal worker jobs in scope. */
  cancelWorkers(params: { scope: WorkerScope; cause: CancelCause; error: string }): Promise<ChangedRow[]>;
  /**
   * Failed worker jobs in scope, and those cancelled by a failure cascade or a timeout, back to
   * pending with attempt + 1; each recorded in the retry log.
   */
  retryWorkers(scope: WorkerScope): Promise<ChangedRow[]>;

  /** Status change of a step or manager row, guarded by its expected statuses. */
  setStatus(params: {
    ids: number[];
    from: readonly JobStatus[];
    to: JobStatus;
    error?: string | null;
    cancelCause?: CancelCause | null;
    /** Sets started_at when it is null. */
    start?: boolean;
    /** Sets finished_at (terminal) or clears it (reopen). */
    finish?: boolean;
    /** For steps: make them claimable now (true), wait for dependencies (false), or leave as is. */
    release?: boolean;
    clearLease?: boolean;
    /** Steps re-planned after a failed plan: `planned` back to null, attempt + 1. */
    replan?: boolean;
  }): Promise<ChangedRow[]>;
  releaseSteps(ids: number[]): Promise<void>;
  /** Planning ended for a step whose planning lease is `token`. */
  markPlanned(params: { stepId: number; token: string; planned: number }): Promise<boolean>;

  runsPastDeadline(limit: number): Promise<number[]>;
  runningManagers(limit: number): Promise<number[]>;
  plannedRunningSteps(limit: number): Promise<number[]>;
  deleteRun(managerId: number): Promise<{ jobs: number; logs: number }>;

  stepSnapshots(ids: number[]): Promise<StepSnapshot[]>;
  managerSnapshots(ids: number[]): Promise<ManagerSnapshot[]>;
}
