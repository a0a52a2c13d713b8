/**
 * Runs one claimed job: a worker job through its step type's `run`, or a step's planning through
 * `plan`. It never talks to the pool's bookkeeping; it returns what should be acknowledged.
 */
import { backoffDelay } from '../core/backoff.js';
import type { Clock, Timers } from '../core/clock.js';
import { errorMessage, StepqError } from '../core/errors.js';
import type { JsonValue, LogLevel } from '../core/job.js';
import type { PlanOutput, RunContext, WorkerSpec } from '../core/step-type.js';
import type { EventBus } from '../events/bus.js';
import type { ClaimedJob, Effects, Store } from '../store/store.js';
import type { LogBuffer } from './log-buffer.js';
import { dependencyAccess, type StepCache, type StepInfo } from './step-cache.js';
import type { StepTypeRegistry } from './step-types.js';

/** Why a running job's signal was aborted. */
export type AbortCause = 'cancelled' | 'lease-lost' | 'timeout' | 'shutdown';

export class JobAbort extends Error {
  constructor(
    readonly kind: AbortCause,
    message: string,
  ) {
    super(message);
    this.name = 'JobAbort';
  }
}

export type RunOutcome =
  | { kind: 'completed'; result: JsonValue }
  /** `retryInMs`: back to pending after this delay (the store adds it to its own clock), or null: failed for good. */
  | { kind: 'failed'; error: string; retryInMs: number | null }
  /** Nothing to acknowledge: planning recorded itself, or the job was cancelled / lost meanwhile. */
  | { kind: 'none' }
  /** Shutting down: hand the job back without spending an attempt. */
  | { kind: 'release' };

export { PermanentError } from '../core/errors.js';

/** Worker specs inserted per transaction while a plan streams. */
const PLAN_BATCH = 2000;

export interface JobRunnerOptions {
  store: Store;
  registry: StepTypeRegistry;
  steps: StepCache;
  logs: LogBuffer;
  bus: EventBus;
  clock: Clock;
  timers: Timers;
  publish: (effects: Effects) => void;
  /** New jobs exist: wake the pool instead of waiting for its next poll. */
  wake: () => void;
  /** How long a handler may ignore an abort before its slot is taken back. */
  abortGraceMs: number;
}

export class JobRunner {
  constructor(private readonly o: JobRunnerOptions) {}

  /**
   * `ac` is the job's own controller (the pool aborts it on cancel, lease loss and shutdown; the
   * runner on timeout): one per job, since a controller and its listeners cost more than a no-op job.
   */
  async run(job: ClaimedJob, ac: AbortController): Promise<RunOutcome> {
    return job.kind === 'step' ? this.plan(job, ac.signal) : this.work(job, ac);
  }

  private async work(job: ClaimedJob, ac: AbortController): Promise<RunOutcome> {
    let info: StepInfo;
    try {
      info = await this.o.steps.get(job.stepId);
    } catch (err) {
      return { kind: 'failed', error: `Could not load step ${job.stepId}: ${errorMessage(err)}`, retryInMs: this.retryDelay(job, null) };
    }
    const type = this.o.registry.get(info.type);
    if (!type) {
      return {
        kind: 'failed',
        error: `ERR_STEP_TYPE_UNKNOWN: no step type "${info.type}" is registered in this worker.`,
        retryInMs: null,
      };
    }
    const timer =
      job.timeoutMs !== null
        ? this.o.timers.after(job.timeoutMs, () =>
            ac.abort(new JobAbort('timeout', `ERR_JOB_TIMEOUT: the job ran longer than its timeout of ${job.timeoutMs} ms`)),
          )
        : null;
    const target = { jobId: job.id, stepId: job.stepId, managerId: job.managerId };
    let spawned = 0;
    const ctx: RunContext<unknown> = {
      config: info.config,
      run: info.run,
      signal: ac.signal,
      dependencies: dependencyAccess(this.o.store, info),
      log: (level: LogLevel, message: string) => this.o.logs.add(target, level, message),
      progress: (p) => this.o.bus.emit('job_progress', { ...target, progress: p }),
      spawn: async (children: WorkerSpec[]) => {
        if (ac.signal.aborted) throw ac.signal.reason;
        let created = 0;
        for (let i = 0; i < children.length; i += PLAN_BATCH) {
          const batch = children.slice(i, i + PLAN_BATCH);
          const r = await this.o.store.enqueueMany({
            stepId: job.stepId,
            parentId: job.id,
            token: job.leaseToken,
            jobs: batch,
            seq: spawned,
          });
          spawned += batch.length;
          created += r.inserted;
          this.o.publish(r.effects);
        }
        if (created > 0) this.o.wake();
        return { created };
      },
    };
    try {
      const value = await settleOrAbort(
        Promise.resolve().then(() =>
          type.run(
            {
              id: job.id,
              name: job.name,
              payload: job.payload,
              attempt: job.attempt,
              maxAttempts: job.maxAttempts,
              depth: job.depth,
              parentId: job.parentId,
            },
            ctx,
          ),
        ),
        ac.signal,
        this.o.abortGraceMs,
        this.o.timers,
      );
      if (ac.signal.aborted) return this.aborted(job, ac.signal.reason);
      return { kind: 'completed', result: value === undefined ? null : (value as JsonValue) };
    } catch (err) {
      if (ac.signal.aborted) return this.aborted(job, ac.signal.reason);
      const permanent = typeof err === 'object' && err !== null && (err as { retryable?: unknown }).retryable === false;
      return { kind: 'failed', error: describeError(err), retryInMs: permanent ? null : this.retryDelay(job, info) };
    } finally {
      timer?.cancel();
      this.o.logs.endJob(job.id);
    }
  }

  private aborted(job: ClaimedJob, reason: unknown): RunOutcome {
    const cause = reason instanceof JobAbort ? reason.kind : 'cancelled';
    if (cause === 'shutdown') return { kind: 'release' };
    if (cause === 'timeout') {
      return { kind: 'failed', error: (reason as JobAbort).message, retryInMs: this.retryDelay(job, null) };
    }
    return { kind: 'none' };
  }

  private retryDelay(job: ClaimedJob, info: StepInfo | null): number | null {
    if (job.attempt >= job.maxAttempts) return null;
    const policy = info?.policy.backoff ?? { type: 'exponential' as const, baseMs: 1000, maxMs: 300_000 };
    return backoffDelay({ policy, attempt: job.attempt });
  }

  private async plan(step: ClaimedJob, signal: AbortSignal): Promise<RunOutcome> {
    const target = { jobId: step.id, stepId: step.id, managerId: step.managerId };
    try {
      const info = await this.o.steps.get(step.id);
      const type = this.o.registry.get(info.type);
      if (!type) {
        throw new StepqError('ERR_STEP_TYPE_UNKNOWN', `No step type "${info.type}" is registered in this worker.`);
      }
      const ctx = {
        config: info.config,
        run: info.run,
        signal,
        dependencies: dependencyAccess(this.o.store, info),
        log: (level: LogLevel, message: string) => this.o.logs.add(target, level, message),
      };
      let buffer: WorkerSpec[] = [];
      let seq = 0;
      let inserted = 0;
      const flush = async (): Promise<void> => {
        if (buffer.length === 0) return;
        const jobs = buffer;
        buffer = [];
        const r = await this.o.store.enqueueMany({ stepId: step.id, parentId: step.id, token: step.leaseToken, jobs, seq });
        seq += jobs.length;
        inserted += r.inserted;
        this.o.publish(r.effects);
        if (r.inserted > 0) this.o.wake();
        // With an in-process store a long plan would otherwise run in microtasks alone and hold up
        // the process (HTTP, signals, heartbeats) until its last batch.
        await new Promise<void>((resolve) => setImmediate(resolve));
      };
      const output: PlanOutput = type.plan ? type.plan(ctx) : [{ name: info.name }];
      for await (const item of iterate(await output)) {
        if (signal.aborted) throw signal.reason;
        if (Array.isArray(item)) buffer.push(...item);
        else buffer.push(item);
        if (buffer.length >= PLAN_BATCH) await flush();
      }
      await flush();
      this.o.logs.add(
        target,
        'info',
        `Planned ${seq} worker jobs${inserted !== seq ? ` (${inserted} new, ${seq - inserted} already existed)` : ''}.`,
      );
      this.o.publish(await this.o.store.markPlanned({ stepId: step.id, token: step.leaseToken, planned: seq }));
      this.o.wake();
      return { kind: 'none' };
    } catch (err) {
      if (signal.aborted) return this.aborted(step, signal.reason);
      if (err instanceof StepqError && (err.code === 'ERR_LEASE_LOST' || err.code === 'ERR_JOB_NOT_IN_STATUS')) {
        return { kind: 'none' }; // the step was cancelled or failed while planning
      }
      this.o.logs.add(target, 'error', `Planning failed: ${describeError(err)}`);
      const permanent =
        (err instanceof StepqError && err.code === 'ERR_STEP_TYPE_UNKNOWN') ||
        (typeof err === 'object' && err !== null && (err as { retryable?: unknown }).retryable === false);
      return { kind: 'failed', error: `Planning failed: ${describeError(err)}`, retryInMs: permanent ? null : this.retryDelay(step, null) };
    } finally {
      this.o.logs.endJob(step.id);
    }
  }
}

async function* iterate(
  output: Iterable<WorkerSpec | WorkerSpec[]> | AsyncIterable<WorkerSpec | WorkerSpec[]> | void,
): AsyncIterable<WorkerSpec | WorkerSpec[]> {
  if (output === undefined || output === null) return;
  if (Symbol.asyncIterator in output) {
    yield* output as AsyncIterable<WorkerSpec | WorkerSpec[]>;
    return;
  }
  yield* output as Iterable<WorkerSpec | WorkerSpec[]>;
}

function describeError(err: unknown): string {
  if (err instanceof StepqError) return `${err.code}: ${err.message}`;
  return errorMessage(err);
}

/**
 * Resolves with the handler's value, or rejects with the abort reason once `graceMs` passed after
 * an abort the handler did not honour (its slot is taken back; a late answer is ignored).
 */
function settleOrAbort<T>(work: Promise<T>, signal: AbortSignal, graceMs: number, timers: Timers): Promise<T> {
  if (signal.aborted && graceMs <= 0) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    let handle: { cancel(): void } | null = null;
    const onAbort = (): void => {
      handle = timers.after(graceMs, () => reject(signal.reason));
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (v) => {
        handle?.cancel();
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        handle?.cancel();
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
