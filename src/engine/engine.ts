/**
 * The engine: composes the store, the event bus, the worker pool, the lease rescuer and the
 * scheduler, and offers the library API (`createStepq`). It knows nothing of HTTP.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { pino, type Logger } from 'pino';
import { systemClock, systemTimers, type Clock, type Timers } from '../core/clock.js';
import { StepqError } from '../core/errors.js';
import type { ManagerProgress, StepProgress } from '../core/events.js';
import { isTerminal, type CancelCause, type Job, type JobStatus, type JsonValue, type LogLine } from '../core/job.js';
import type { Counts } from '../core/progress.js';
import type { StepType } from '../core/step-type.js';
import { definitionError, resolveRun } from '../definitions/index.js';
import type { Definition, ParseResult } from '../definitions/types.js';
import { EventBus } from '../events/bus.js';
import { notifyTargetOf, PgNotifyBridge } from '../events/pg-notify.js';
import { builtinStepTypes } from '../steps/index.js';
import type { Effects, JobFilter, JobSummary, LogFilter, ManagerSnapshot, Page, Store } from '../store/store.js';
import { DefinitionCatalog, type DefinitionRef, type StoredDefinitionView } from './definition-catalog.js';
import { EventPublisher } from './event-publisher.js';
import { ExternalWatcher } from './external-watcher.js';
import { JobRunner } from './job-runner.js';
import { LeaseRescuer } from './lease-rescuer.js';
import { LogBuffer } from './log-buffer.js';
import { Scheduler } from './scheduler.js';
import { StepCache } from './step-cache.js';
import { StepTypeRegistry } from './step-types.js';
import { openStore } from './store-url.js';
import { WorkerPool } from './worker-pool.js';

export interface StepqOptions {
  /** `sqlite:PATH` (default `sqlite:./stepq.db`), `postgres://...`, or a Store instance. */
  store?: string | Store;
  /** Worker jobs this process runs at once (default 32). */
  concurrency?: number;
  /** Most jobs claimed per round trip (default 100). */
  batchSize?: number;
  /** Lease length; heartbeats extend it every third of it (default 30 s). */
  leaseMs?: number;
  heartbeatMs?: number;
  /** Longest idle wait between claims when no wake-up comes (default 500 ms). */
  pollMs?: number;
  /** How often expired leases are reclaimed (default 5 s). */
  rescueIntervalMs?: number;
  /** How long a handler may ignore an abort (timeout, cancel) before its slot is taken back (default 5 s). */
  abortGraceMs?: number;
  /** Step types to register besides the built-in ones. */
  stepTypes?: StepType<unknown>[];
  /** Register the built-in step types (default true). */
  builtins?: boolean;
  /** Allow the `shell` step type (default false: definitions using it are rejected). */
  allowShell?: boolean;
  /** Allow the `script` step type, which loads modules from the workers' disks (default false). */
  allowScript?: boolean;
  /** Claim only jobs of these step types (a worker specialised for some types). */
  types?: string[];
  /** Identifies this worker in leases (default host:pid:random). */
  owner?: string;
  /** Log lines kept per job attempt (default 1000). */
  maxLogLinesPerJob?: number;
  logger?: Logger;
  clock?: Clock;
  timers?: Timers;
}

export interface RunRequest {
  /** A parsed definition, TOML source text, or a stored definition's id (`{ id }`). */
  definition: DefinitionRef;
  /** Params by name; strings are coerced to the declared types (as from `--param k=v`). */
  params?: Record<string, unknown>;
}

export interface StartedRun {
  managerId: number;
  steps: Job[];
}

export interface RunOutcome {
  manager: ManagerSnapshot;
  steps: Array<{
    stepId: number;
    name: string;
    status: JobStatus;
    counts: Counts;
    error: string | null;
    startedAt: number | null;
    finishedAt: number | null;
  }>;
}

export type { StoredDefinitionView } from './definition-catalog.js';

export class Stepq implements AsyncDisposable {
  readonly bus: EventBus;
  readonly registry = new StepTypeRegistry();
  readonly logger: Logger;
  readonly owner: string;
  private readonly clock: Clock;
  private readonly timers: Timers;
  private readonly publisher: EventPublisher;
  /** Events and wake-ups across processes (stores shared by several processes: PostgreSQL). */
  private readonly bridge: PgNotifyBridge | null;
  private readonly logs: LogBuffer;
  private readonly steps: StepCache;
  private readonly catalog: DefinitionCatalog;
  private readonly pool: WorkerPool;
  private readonly rescuer: LeaseRescuer;
  private readonly scheduler: Scheduler;
  private readonly watcher: ExternalWatcher;
  private readonly graceMs: number;
  private logTimer: { cancel(): void } | null = null;
  private readonly deadlines = new Set<{ cancel(): void }>();
  private started = { workers: false, rescuer: false, scheduler: false };
  private closed = false;

  constructor(
    readonly store: Store,
    private readonly options: StepqOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.timers = options.timers ?? systemTimers;
    this.logger = options.logger ?? pino({ level: process.env.STEPQ_LOG_LEVEL ?? 'warn' });
    this.owner = options.owner ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    this.graceMs = options.abortGraceMs ?? 5000;
    this.bus = new EventBus({ onListenerError: (err, event) => this.logger.error({ err, event }, 'event listener failed') });
    this.publisher = new EventPublisher(this.bus, this.clock);
    const target = notifyTargetOf(store);
    this.bridge = target
      ? new PgNotifyBridge({
          target,
          origin: this.owner,
          logger: this.logger.child({ component: 'pg-notify' }),
          onWake: () => this.pool.wake(),
          onEffects: (effects) => {
            this.abortCancelled(effects);
            this.publisher.publish(effects);
          },
          readSnapshots: async (stepIds, managerIds) => ({
            steps: (await Promise.all(stepIds.map((id) => store.getStepSnapshot(id)))).filter((x) => x !== null),
            managers: (await Promise.all(managerIds.map((id) => store.getManagerSnapshot(id)))).filter((x) => x !== null),
          }),
          wantsSnapshots: () => this.bus.has('step_progress') || this.bus.has('manager_progress'),
        })
      : null;
    if (options.builtins !== false) for (const t of builtinStepTypes) this.registry.register(t);
    for (const t of options.stepTypes ?? []) this.registry.register(t);
    if (options.allowShell) this.registry.enable('shell');
    if (options.allowScript) this.registry.enable('script');
    this.steps = new StepCache(store);
    this.catalog = new DefinitionCatalog(store, this.registry);
    this.logs = new LogBuffer({
      store,
      clock: this.clock,
      publish: (batch) => this.bus.emit('job_log', batch),
      maxLinesPerJob: options.maxLogLinesPerJob ?? 1000,
      maxLineChars: 8192,
    });
    const publish = this.publish.bind(this);
    const wake = (): void => this.wakeWorkers();
    const runner = new JobRunner({
      store,
      registry: this.registry,
      steps: this.steps,
      logs: this.logs,
      bus: this.bus,
      clock: this.clock,
      timers: this.timers,
      publish,
      wake,
      abortGraceMs: this.graceMs,
    });
    const leaseMs = options.leaseMs ?? 30_000;
    this.pool = new WorkerPool({
      store,
      owner: this.owner,
      concurrency: options.concurrency ?? 32,
      batchSize: options.batchSize ?? 100,
      leaseMs,
      heartbeatMs: options.heartbeatMs ?? Math.max(10, Math.floor(leaseMs / 3)),
      pollMs: options.pollMs ?? 500,
      ...(options.types ? { types: options.types } : {}),
      timers: this.timers,
      logger: this.logger.child({ component: 'worker-pool' }),
      run: (job, ac) => runner.run(job, ac),
      publish,
      beforeAck: () => this.logs.flush(),
    });
    this.rescuer = new LeaseRescuer({
      store,
      timers: this.timers,
      logger: this.logger.child({ component: 'lease-rescuer' }),
      intervalMs: options.rescueIntervalMs ?? 5000,
      publish,
      onRescued: (count) => this.bus.emit('lease_rescue', { count, at: this.clock.now() }),
      wake,
    });
    this.scheduler = new Scheduler({
      store,
      clock: this.clock,
      timers: this.timers,
      logger: this.logger.child({ component: 'scheduler' }),
      definitions: () => this.listDefinitions(),
      startRun: (definition) => this.startRun({ definition }).then((r) => r.managerId),
    });
    this.watcher = new ExternalWatcher({
      store,
      timers: this.timers,
      logger: this.logger.child({ component: 'external-watcher' }),
      publish,
    });
  }

  /** Registers a step type (a name, a zod config schema, `plan` and `run`). */
  registerStepType<C>(type: StepType<C>): this {
    this.registry.register(type);
    return this;
  }

  /**
   * Starts the worker pool and the lease rescuer (and, when asked, the cron scheduler, and polling
   * of runs that other processes run on a store without an event channel).
   */
  start(opts: { workers?: boolean; rescuer?: boolean; scheduler?: boolean; watchOthers?: boolean; onlyRun?: number } = {}): this {
    if (this.closed) throw new StepqError('ERR_CONFIG', 'This stepq instance was stopped.');
    if (opts.workers !== false && !this.started.workers) {
      this.pool.start(opts.onlyRun !== undefined ? { onlyRun: opts.onlyRun } : {});
      this.started.workers = true;
    }
    if (opts.rescuer !== false && !this.started.rescuer) {
      this.rescuer.start();
      this.started.rescuer = true;
    }
    if (opts.scheduler && !this.started.scheduler) {
      this.scheduler.start();
      this.started.scheduler = true;
    }
    if (opts.watchOthers && !this.store.capabilities.multiProcess) this.watcher.start();
    this.scheduleLogFlush();
    return this;
  }

  /**
   * Stops claiming, lets running jobs finish for up to `graceMs`, hands the rest back to the queue,
   * flushes logs and closes the store (unless `closeStore` is false).
   */
  async stop(opts: { graceMs?: number; closeStore?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.scheduler.stop();
    this.watcher.stop();
    for (const t of this.deadlines) t.cancel();
    await this.pool.stop(opts.graceMs ?? 10_000);
    await this.rescuer.stop();
    this.logTimer?.cancel();
    await this.logs.flush().catch((err: unknown) => this.logger.error({ err }, 'flushing logs failed'));
    await this.bridge?.close();
    if (opts.closeStore !== false) await this.store.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  /** Reclaims expired leases and settles stalled steps now (normally periodic). */
  rescueNow(): Promise<{ rescued: number }> {
    return this.rescuer.tick();
  }

  private scheduleLogFlush(): void {
    if (this.logTimer) return;
    const tick = (): void => {
      this.logTimer = this.timers.after(200, () => {
        void this.logs
          .flush()
          .catch((err: unknown) => this.logger.error({ err }, 'flushing logs failed'))
          .finally(() => {
            if (!this.closed) tick();
          });
      });
    };
    tick();
  }

  /**
   * A job cancelled while this process runs it: abort its handler now (from this process's effects,
   * or another's through the bridge; without a bridge, at the next heartbeat). Read from the effects,
   * so that no job event is built when nobody listens to the bus.
   */
  private abortCancelled(effects: Effects): void {
    for (const j of effects.jobs) {
      if (j.status === 'cancelled' && j.kind !== 'manager') this.pool.abort(j.id, 'cancelled', j.error ?? 'Cancelled');
    }
  }

  private publish(effects: Effects): void {
    this.abortCancelled(effects);
    this.publisher.publish(effects);
    this.bridge?.publish(effects);
  }

  /** Jobs became claimable: wake this process's pool, and other processes' through the bridge. */
  private wakeWorkers(): void {
    this.pool.wake();
    this.bridge?.wake();
  }

  /** Resolves once events from other processes are being received (at once without a bridge). */
  eventsReady(): Promise<void> {
    return this.bridge?.ready ?? Promise.resolve();
  }

  // ---- definitions (see definition-catalog.ts) ------------------------------------------------

  /** Parses and validates a TOML definition against this engine's step types. */
  parse(source: string, file?: string): ParseResult {
    return this.catalog.parse(source, file);
  }

  /** Validates and stores a definition (replacing one with the same id). Invalid ones are refused. */
  saveDefinition(input: { source: string; file?: string }): Promise<StoredDefinitionView> {
    return this.catalog.save(input);
  }

  listDefinitions(): Promise<StoredDefinitionView[]> {
    return this.catalog.list();
  }

  getDefinition(id: string): Promise<StoredDefinitionView | null> {
    return this.catalog.get(id);
  }

  deleteDefinition(id: string): Promise<boolean> {
    return this.catalog.delete(id);
  }

  // ---- runs ----------------------------------------------------------------------------------

  /**
   * Validates the definition and params whole, then creates the run: the manager job and one step
   * job per step (nothing is written when anything is invalid). Workers pick it up from there.
   */
  async startRun(req: RunRequest): Promise<StartedRun> {
    const definition = await this.catalog.resolve(req.definition);
    if (!definition.enabled && !('steps' in req.definition)) {
      throw new StepqError('ERR_DEFINITION_DISABLED', `Definition "${definition.id}" is disabled.`, { id: definition.id });
    }
    const resolved = resolveRun(definition, req.params ?? {}, { stepTypes: this.registry });
    if (!resolved.ok) throw definitionError(resolved.issues, 'ERR_PARAMS_INVALID');
    const { manager, steps, effects } = await this.store.createRun({
      definitionId: definition.id,
      name: definition.name,
      params: resolved.params,
      definition: definition as unknown as JsonValue,
      timeoutMs: definition.timeoutMs,
      steps: resolved.steps.map((s) => ({
        name: s.name,
        type: s.type,
        dependsOn: s.dependsOn,
        policy: s.policy,
        config: s.config,
        ...(definition.steps.find((d) => d.name === s.name)?.description
          ? { description: definition.steps.find((d) => d.name === s.name)!.description! }
          : {}),
      })),
    });
    this.publish(effects);
    this.wakeWorkers();
    if (definition.timeoutMs !== null) {
      // End the run at its deadline, not at the sweep after it (up to rescueIntervalMs later).
      const timer = this.timers.after(definition.timeoutMs + 50, () => {
        this.deadlines.delete(timer);
        if (!this.closed) void this.rescuer.tick();
      });
      this.deadlines.add(timer);
    }
    return { managerId: manager.id, steps };
  }

  /** Starts a run and returns a handle whose `done` resolves when the run has ended. */
  async run(req: RunRequest): Promise<StartedRun & { done: Promise<RunOutcome> }> {
    const started = await this.startRun(req);
    return { ...started, done: this.waitForRun(started.managerId) };
  }

  /** Runs the definition again with the params of run `managerId` (the current definition, not a copy). */
  async rerun(managerId: number): Promise<StartedRun> {
    const manager = await this.store.getJob(managerId);
    if (!manager || manager.kind !== 'manager') throw new StepqError('ERR_JOB_NOT_FOUND', `Run ${managerId} does not exist.`);
    const payload = manager.payload as { definitionId?: string; params?: Record<string, unknown>; definition?: Definition };
    const stored = payload.definitionId ? await this.store.getDefinition(payload.definitionId) : null;
    const definition: RunRequest['definition'] = stored ? { id: stored.id } : (payload.definition as Definition);
    return this.startRun({ definition, params: payload.params ?? {} });
  }

  /** Resolves once run `managerId` has ended, with its final snapshot and its steps. */
  async waitForRun(managerId: number, opts: { signal?: AbortSignal; pollMs?: number } = {}): Promise<RunOutcome> {
    await new Promise<void>((resolve, reject) => {
      let poll: { cancel(): void } | null = null;
      const done = (): void => {
        off();
        poll?.cancel();
        opts.signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = (): void => {
        off();
        poll?.cancel();
        reject(opts.signal?.reason);
      };
      const off = this.bus.on('manager_progress', (m) => {
        if (m.managerId === managerId && isTerminal(m.status)) done();
      });
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      // Polling covers runs finished by other processes and events missed before subscribing.
      const check = (): void => {
        void this.store.getJob(managerId).then(
          (j) => {
            if (!j) return reject(new StepqError('ERR_JOB_NOT_FOUND', `Run ${managerId} does not exist.`));
            if (isTerminal(j.status)) done();
            else poll = this.timers.after(opts.pollMs ?? 1000, check);
          },
          (err: unknown) => reject(err),
        );
      };
      check();
    });
    return this.outcome(managerId);
  }

  async outcome(managerId: number): Promise<RunOutcome> {
    const manager = await this.store.getManagerSnapshot(managerId);
    if (!manager) throw new StepqError('ERR_JOB_NOT_FOUND', `Run ${managerId} does not exist.`);
    const stepJobs = await this.store.listJobs({ parentId: managerId, kind: 'step', limit: 1000 });
    const steps = [];
    for (const s of stepJobs.data) {
      const snap = await this.store.getStepSnapshot(s.id);
      steps.push({
        stepId: s.id,
        name: s.name,
        status: s.status,
        counts: snap?.counts ?? { pending: 0, running: 0, completed: 0, failed: 0, cancelled: 0, total: 0 },
        error: s.error,
        startedAt: s.startedAt,
        finishedAt: s.finishedAt,
      });
    }
    return { manager, steps };
  }

  async cancel(id: number, opts: { cause?: CancelCause; reason?: string } = {}): Promise<{ affected: number }> {
    const r = await this.store.cancel({ id, ...opts });
    this.publish(r.effects);
    return { affected: r.affected };
  }

  async retry(id: number): Promise<{ affected: number }> {
    const r = await this.store.retry({ id });
    this.publish(r.effects);
    if (r.affected > 0) this.wakeWorkers();
    return { affected: r.affected };
  }

  async deleteRun(managerId: number): Promise<{ jobs: number; logs: number }> {
    const steps = await this.store.listJobs({ parentId: managerId, kind: 'step', limit: 1000 });
    const r = await this.store.deleteRun({ managerId });
    for (const s of steps.data) this.steps.forget(s.id);
    this.publish(r.effects);
    return { jobs: r.jobs, logs: r.logs };
  }

  // ---- reads ---------------------------------------------------------------------------------

  getJob(id: number): Promise<Job | null> {
    return this.store.getJob(id);
  }

  listJobs(filter: JobFilter & { limit: number; cursor?: string; order?: 'asc' | 'desc' }): Promise<Page<Job>> {
    return this.store.listJobs(filter);
  }

  /** Jobs for display: large payloads, results and errors cut to `headChars` by the store. */
  listJobSummaries(
    filter: JobFilter & { limit: number; cursor?: string; order?: 'asc' | 'desc'; headChars: number },
  ): Promise<Page<JobSummary>> {
    return this.store.listJobSummaries(filter);
  }

  async stepProgress(stepId: number): Promise<StepProgress | null> {
    const s = await this.store.getStepSnapshot(stepId);
    return s ? this.publisher.stepProgress(s) : null;
  }

  async runProgress(managerId: number): Promise<ManagerProgress | null> {
    const m = await this.store.getManagerSnapshot(managerId);
    return m ? this.publisher.managerProgress(m) : null;
  }

  getProgress(id: number): Promise<Counts | null> {
    return this.store.getProgress(id);
  }

  /** Runs and all worker jobs by status (O(1): from counters). */
  stats(): Promise<{ runs: Counts; jobs: Counts }> {
    return this.store.getStats();
  }

  listLogs(filter: LogFilter): Promise<Page<LogLine>> {
    return this.store.listLogs(filter);
  }

  listRetries(jobId: number): ReturnType<Store['listRetries']> {
    return this.store.listRetries(jobId);
  }
}

/** Opens (and migrates) the store and returns an engine. Call `start()` to run workers. */
export async function createStepq(options: StepqOptions = {}): Promise<Stepq> {
  const store =
    typeof options.store === 'object'
      ? options.store
      : await openStore(options.store ?? 'sqlite:./stepq.db', options.clock ? { clock: options.clock } : {});
  await store.migrate();
  const engine = new Stepq(store, options);
  await engine.eventsReady();
  return engine;
}
