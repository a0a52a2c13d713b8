/**
 * The worker pool: claims jobs in batches, runs them with bounded concurrency, keeps their leases
 * alive, and acknowledges them in groups. See ARCHITECTURE.md beside this file for the lease rules.
 */
import type { Timers } from '../core/clock.js';
import { errorMessage } from '../core/errors.js';
import type { Logger } from 'pino';
import type { Acknowledgement, ClaimedJob, Effects, Store } from '../store/store.js';
import { JobAbort, type AbortCause, type RunOutcome } from './job-runner.js';

export interface WorkerPoolOptions {
  store: Store;
  owner: string;
  /** Jobs run at once by this pool. */
  concurrency: number;
  /** Most jobs taken per claim. */
  batchSize: number;
  leaseMs: number;
  heartbeatMs: number;
  /** Longest wait between claims when idle (wake-ups usually come sooner). */
  pollMs: number;
  types?: string[];
  timers: Timers;
  logger: Logger;
  run: (job: ClaimedJob, ac: AbortController) => Promise<RunOutcome>;
  publish: (effects: Effects) => void;
  /** Called before acknowledgements are written (log lines go first, so a finished job has its logs). */
  beforeAck?: () => Promise<void>;
}

interface InFlight {
  job: ClaimedJob;
  ac: AbortController;
}

export class WorkerPool {
  private readonly inFlight = new Map<number, InFlight>();
  /** Finished jobs whose acknowledgement is not yet written: their leases are still heartbeated. */
  private readonly awaitingAck = new Set<number>();
  /**
   * Finished jobs whose answer this process knows is moot: they were cancelled (by this process, or
   * by another through the event bridge) after their handler answered but before the answer was
   * written. The store ignores those answers as lost leases; that is expected, not worth a warning.
   */
  private readonly moot = new Set<number>();
  private acks: Acknowledgement[] = [];
  private releases: number[] = [];
  private flushing: Promise<void> | null = null;
  private flushQueued = false;
  private running = false;
  private loopDone: Promise<void> | null = null;
  private wakeUp: (() => void) | null = null;
  private idleWaiters: Array<() => void> = [];
  private heartbeat: { cancel(): void } | null = null;
  private claimFailures = 0;

  constructor(private readonly o: WorkerPoolOptions) {}

  get busy(): number {
    return this.inFlight.size;
  }

  /** Claim only jobs of this run (set by start). */
  private onlyRun: number | null = null;

  /** Starts claiming; with `onlyRun`, only that run's jobs (what `stepq run` needs). */
  start(opts: { onlyRun?: number } = {}): void {
    if (this.running) return;
    this.onlyRun = opts.onlyRun ?? null;
    this.running = true;
    this.loopDone = this.loop();
    this.scheduleHeartbeat();
  }

  /** New work may exist: claim now instead of at the next poll. */
  wake(): void {
    this.wakeUp?.();
  }

  /** Aborts a job this pool runs (it was cancelled, or its lease is gone). */
  abort(jobId: number, cause: AbortCause, message: string): void {
    const f = this.inFlight.get(jobId);
    if (f && !f.ac.signal.aborted) f.ac.abort(new JobAbort(cause, message));
    else if (!f && cause === 'cancelled' && this.awaitingAck.has(jobId)) this.moot.add(jobId);
  }

  /**
   * Stops claiming; waits up to `graceMs` for running jobs, then aborts the rest and hands them back
   * (no attempt spent). Nothing stays locked after this resolves.
   */
  async stop(graceMs: number): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.wake();
    await this.loopDone;
    if (this.inFlight.size > 0) {
      await new Promise<void>((resolve) => {
        const t = this.o.timers.after(graceMs, resolve);
        this.idleWaiters.push(() => {
          t.cancel();
          resolve();
        });
      });
    }
    for (const id of [...this.inFlight.keys()]) this.abort(id, 'shutdown', 'The worker is shutting down.');
    while (this.inFlight.size > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    this.heartbeat?.cancel();
    await this.flush();
  }

  private async loop(): Promise<void> {
    while (this.running) {
      // With an in-process store and quick handlers, claim → run → finish can chain through
      // microtasks alone; yielding here lets acknowledgements, heartbeats and timers run.
      await new Promise<void>((resolve) => setImmediate(resolve));
      const free = this.o.concurrency - this.inFlight.size;
      if (free <= 0) {
        await this.waitForWake(this.o.pollMs);
        continue;
      }
      let jobs: ClaimedJob[];
      try {
        const r = await this.o.store.claim({
          owner: this.o.owner,
          limit: Math.min(free, this.o.batchSize),
          leaseMs: this.o.leaseMs,
          ...(this.o.types ? { types: this.o.types } : {}),
          ...(this.onlyRun !== null ? { managerId: this.onlyRun } : {}),
        });
        this.claimFailures = 0;
        jobs = r.jobs;
        this.o.publish(r.effects);
      } catch (err) {
        this.claimFailures += 1;
        this.o.logger.error({ err: errorMessage(err) }, 'claim failed; retrying');
        await this.waitForWake(Math.min(this.o.pollMs * 2 ** this.claimFailures, 10_000));
        continue;
      }
      for (const job of jobs) this.begin(job);
      if (jobs.length === 0) await this.waitForWake(this.o.pollMs);
      else if (this.inFlight.size >= this.o.concurrency) await this.waitForWake(this.o.pollMs);
    }
  }

  /** Waits for a wake-up (new work, a free slot) or `ms`, whichever comes first. */
  private waitForWake(ms: number): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const t = this.o.timers.after(ms, () => {
        this.wakeUp = null;
        resolve();
      });
      this.wakeUp = () => {
        this.wakeUp = null;
        t.cancel();
        resolve();
      };
    });
  }

  private begin(job: ClaimedJob): void {
    const ac = new AbortController();
    this.inFlight.set(job.id, { job, ac });
    void this.o
      .run(job, ac)
      .catch((err: unknown): RunOutcome => ({ kind: 'failed', error: `stepq internal error: ${errorMessage(err)}`, retryInMs: null }))
      .then((outcome) => this.finish(job, outcome));
  }

  private finish(job: ClaimedJob, outcome: RunOutcome): void {
    // Cancelled after the handler had answered (its outcome was decided before the abort): moot too.
    const reason: unknown = this.inFlight.get(job.id)?.ac.signal.reason;
    if (reason instanceof JobAbort && reason.kind === 'cancelled') this.moot.add(job.id);
    this.inFlight.delete(job.id);
    if (outcome.kind === 'completed') {
      this.acks.push({ id: job.id, token: job.leaseToken, status: 'completed', result: outcome.result });
      this.awaitingAck.add(job.id);
    } else if (outcome.kind === 'failed') {
      this.acks.push({ id: job.id, token: job.leaseToken, status: 'failed', error: outcome.error, retryInMs: outcome.retryInMs });
      this.awaitingAck.add(job.id);
    } else {
      this.moot.delete(job.id); // no answer to write
      if (outcome.kind === 'release') this.releases.push(job.id);
    }
    this.scheduleFlush();
    // A slot is free: let the claim loop run after this turn, so that jobs finishing together are
    // replaced by one claim.
    setImmediate(() => this.wake());
    if (this.inFlight.size === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  private scheduleFlush(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    setImmediate(() => {
      this.flushQueued = false;
      void this.flush();
    });
  }

  /** Writes grouped acknowledgements; one write at a time, the next batch collects meanwhile. */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (this.acks.length === 0 && this.releases.length === 0) {
      await this.o.beforeAck?.();
      return;
    }
    const acks = this.acks;
    const releases = this.releases;
    this.acks = [];
    this.releases = [];
    this.flushing = (async () => {
      try {
        await this.o.beforeAck?.();
        if (acks.length > 0) {
          const r = await this.o.store.acknowledge({ acks });
          for (const a of acks) this.awaitingAck.delete(a.id);
          this.o.publish(r.effects);
          if (r.lost.length > 0) {
            // Only losses nobody here expected (a lease that expired and was rescued, a cancel this
            // process did not hear of) are warnings; answers to jobs cancelled meanwhile are not.
            const unexpected = r.lost.filter((id) => !this.moot.has(id));
            const moot = r.lost.length - unexpected.length;
            if (unexpected.length > 0) {
              this.o.logger.warn(
                { jobs: unexpected.slice(0, 20), count: unexpected.length },
                'answers for jobs whose lease was lost were ignored',
              );
            }
            if (moot > 0) this.o.logger.debug({ count: moot }, 'answers for jobs cancelled meanwhile were ignored');
          }
          for (const a of acks) this.moot.delete(a.id);
        }
        if (releases.length > 0) {
          const r = await this.o.store.release({ owner: this.o.owner, ids: releases });
          this.o.publish(r.effects);
        }
      } catch (err) {
        // Keep them for the next attempt; the leases stay heartbeated meanwhile.
        this.acks = acks.concat(this.acks);
        this.releases = releases.concat(this.releases);
        this.o.logger.error({ err: errorMessage(err) }, 'acknowledging jobs failed; will retry');
        this.o.timers.after(500, () => this.scheduleFlush());
      }
    })();
    try {
      await this.flushing;
    } finally {
      this.flushing = null;
    }
    if (this.acks.length > 0 || this.releases.length > 0) this.scheduleFlush();
  }

  private scheduleHeartbeat(): void {
    this.heartbeat = this.o.timers.after(this.o.heartbeatMs, () => {
      void this.beat().finally(() => {
        if (this.running || this.inFlight.size > 0) this.scheduleHeartbeat();
      });
    });
  }

  /** Extends the leases of everything held; a job whose lease is gone is aborted (it was cancelled or rescued). */
  private async beat(): Promise<void> {
    const ids = [...this.inFlight.keys(), ...this.awaitingAck];
    if (ids.length === 0) return;
    try {
      const { held } = await this.o.store.heartbeat({ owner: this.o.owner, leaseMs: this.o.leaseMs, ids });
      const kept = new Set(held);
      for (const id of ids) {
        if (!kept.has(id)) this.abort(id, 'lease-lost', 'The job is no longer leased to this worker (cancelled, or its lease expired).');
      }
    } catch (err) {
      this.o.logger.error({ err: errorMessage(err) }, 'heartbeat failed');
    }
  }
}
