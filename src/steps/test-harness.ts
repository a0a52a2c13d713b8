/**
 * A small stand-in for the engine, for testing step types without a store: it parses the config with
 * the step type's own schema, builds honest Plan/Run contexts (a real AbortController, collected log
 * lines, `spawn` that deduplicates keys per step as the store does, dependencies read page by page from
 * in-memory arrays) and can drive a step to completion, running spawned jobs until none are left.
 *
 * It is not used by the engine; the engine's own tests cover the real path end to end.
 */
import type { JsonValue, LogLevel } from '../core/job.js';
import type {
  DependencyAccess,
  PlanContext,
  PlanOutput,
  RunContext,
  RunInfo,
  StepFailure,
  StepResult,
  StepType,
  WorkerJob,
  WorkerSpec,
} from '../core/step-type.js';
import { errorMessage } from '../core/errors.js';

export interface HarnessDependency {
  stepType: string;
  results?: StepResult[];
  failures?: StepFailure[];
  cancelled?: number;
}

export interface LoggedLine {
  level: LogLevel;
  message: string;
}

/** State shared by every context of one step: the keys of its jobs (planned and spawned). */
export class HarnessStep {
  readonly keys = new Set<string>();

  /** The specs a store would insert: those without a key, and the first of each new key. */
  accept(specs: readonly WorkerSpec[]): WorkerSpec[] {
    const fresh: WorkerSpec[] = [];
    for (const spec of specs) {
      if (spec.key !== undefined) {
        if (this.keys.has(spec.key)) continue;
        this.keys.add(spec.key);
      }
      fresh.push(spec);
    }
    return fresh;
  }
}

export interface MakeContextOptions<C> {
  type: StepType<C>;
  /** The step's config as written in a definition; parsed (and defaulted) by the type's schema. */
  config: unknown;
  run?: Partial<RunInfo>;
  dependencies?: Record<string, HarnessDependency>;
  /** Page size of `dependencies.results/failures` (default 100). */
  pageSize?: number;
  /** Share one step's key set between contexts (the harness's `runJobs` does this). */
  step?: HarnessStep;
}

export interface HarnessContext<C> extends RunContext<C> {
  readonly controller: AbortController;
  readonly logs: LoggedLine[];
  /** Specs that `spawn` accepted (new keys only), in order. */
  readonly spawned: WorkerSpec[];
  readonly progressReports: Array<{ done?: number; total?: number; message?: string }>;
  readonly step: HarnessStep;
}

function dependencyAccess(deps: Record<string, HarnessDependency>, pageSize: number): DependencyAccess {
  const get = (name: string): HarnessDependency => {
    const dep = deps[name];
    if (!dep) throw new Error(`"${name}" is not a dependency (known: ${Object.keys(deps).join(', ') || 'none'})`);
    return dep;
  };
  async function* paged<T>(rows: readonly T[]): AsyncGenerator<T> {
    for (let start = 0; start < rows.length; start += pageSize) {
      // A real store answers each page asynchronously; so does this.
      await new Promise((resolve) => setImmediate(resolve));
      yield* rows.slice(start, start + pageSize);
    }
  }
  return {
    names: Object.keys(deps),
    stepType: (name) => deps[name]?.stepType,
    results: (name) => paged(get(name).results ?? []),
    failures: (name) => paged(get(name).failures ?? []),
    counts: async (name) => {
      const dep = get(name);
      const completed = dep.results?.length ?? 0;
      const failed = dep.failures?.length ?? 0;
      const cancelled = dep.cancelled ?? 0;
      return { completed, failed, cancelled, total: completed + failed + cancelled };
    },
  };
}

export function makeContext<C>(options: MakeContextOptions<C>): HarnessContext<C> {
  const config = options.type.config.parse(options.config);
  const controller = new AbortController();
  const logs: LoggedLine[] = [];
  const spawned: WorkerSpec[] = [];
  const progressReports: HarnessContext<C>['progressReports'] = [];
  const step = options.step ?? new HarnessStep();
  const run: RunInfo = {
    managerId: 1,
    stepId: 2,
    stepName: 'test',
    definitionId: 'test',
    params: {},
    createdAt: 1_700_000_000_000,
    ...options.run,
  };
  return {
    config,
    run,
    signal: controller.signal,
    controller,
    logs,
    spawned,
    progressReports,
    step,
    log: (level, message) => void logs.push({ level, message }),
    dependencies: dependencyAccess(options.dependencies ?? {}, options.pageSize ?? 100),
    progress: (p) => void progressReports.push(p),
    spawn: async (children) => {
      // Copy, as a store would: the caller may reuse its objects.
      const fresh = step.accept(children.map((c) => ({ ...c })));
      spawned.push(...fresh);
      await new Promise((resolve) => setImmediate(resolve));
      return { created: fresh.length };
    },
  };
}

function isIterable(value: unknown): value is Iterable<unknown> {
  return value !== null && typeof value === 'object' && Symbol.iterator in value;
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return value !== null && typeof value === 'object' && Symbol.asyncIterator in value;
}

/**
 * Drains a step type's `plan` as the engine does: arrays and single specs, sync or async, or one job
 * when the type has no plan. `batches` keeps the shape the plan yielded; `specs` are those a store
 * would insert (keys deduplicated through `ctx.step`).
 */
export async function collectPlan<C>(
  type: StepType<C>,
  ctx: PlanContext<C> & { step: HarnessStep },
): Promise<{ batches: WorkerSpec[][]; specs: WorkerSpec[] }> {
  const batches: WorkerSpec[][] = [];
  const push = (item: unknown): void => {
    const batch = (Array.isArray(item) ? item : [item]) as WorkerSpec[];
    batches.push(batch);
  };
  const out: PlanOutput = type.plan ? type.plan(ctx) : [{}];
  if (isAsyncIterable(out)) {
    for await (const item of out) push(item);
  } else if (isIterable(out)) {
    for (const item of out) push(item);
  } else {
    const awaited = await out;
    if (awaited) for (const item of awaited) push(item);
  }
  return { batches, specs: ctx.step.accept(batches.flat()) };
}

export interface RunJobsOptions<C> extends Omit<MakeContextOptions<C>, 'step'> {
  /** Jobs to start with, e.g. the output of `collectPlan`; spawned jobs are added as they come. */
  specs: WorkerSpec[];
  /** How many jobs run at once (default 1). */
  concurrency?: number;
  /** Keys already taken in this step (default: the keys of `specs`). */
  step?: HarnessStep;
}

export interface RunJobsOutcome {
  results: StepResult[];
  failures: StepFailure[];
  logs: Array<LoggedLine & { jobId: number }>;
  jobs: WorkerJob[];
}

/** Runs jobs and everything they spawn until none are left, like the engine's worker pool for one step. */
export async function runJobs<C>(options: RunJobsOptions<C>): Promise<RunJobsOutcome> {
  const step = options.step ?? new HarnessStep();
  if (!options.step) step.accept(options.specs);
  const queue: Array<{ spec: WorkerSpec; parentId: number | null; depth: number }> = options.specs.map((spec) => ({
    spec,
    parentId: null,
    depth: 2,
  }));
  const outcome: RunJobsOutcome = { results: [], failures: [], logs: [], jobs: [] };
  let nextId = 1;
  const runOne = async (entry: { spec: WorkerSpec; parentId: number | null; depth: number }): Promise<void> => {
    const id = nextId++;
    const job: WorkerJob = {
      id,
      name: entry.spec.name ?? `${options.run?.stepName ?? 'test'} #${id}`,
      payload: entry.spec.payload ?? null,
      attempt: 1,
      maxAttempts: 1,
      depth: entry.depth,
      parentId: entry.parentId,
    };
    outcome.jobs.push(job);
    const ctx = makeContext({ ...options, step });
    try {
      const result = await options.type.run(job, ctx);
      outcome.results.push({ jobId: id, name: job.name, payload: job.payload, result: (result ?? null) as JsonValue });
    } catch (err) {
      outcome.failures.push({ jobId: id, name: job.name, payload: job.payload, error: errorMessage(err) });
    }
    outcome.logs.push(...ctx.logs.map((l) => ({ ...l, jobId: id })));
    for (const spec of ctx.spawned) queue.push({ spec, parentId: id, depth: entry.depth + 1 });
  };
  const running = new Set<Promise<void>>();
  const limit = Math.max(1, options.concurrency ?? 1);
  while (queue.length > 0 || running.size > 0) {
    while (queue.length > 0 && running.size < limit) {
      const entry = queue.shift();
      if (!entry) break;
      const p: Promise<void> = runOne(entry).finally(() => running.delete(p));
      running.add(p);
    }
    if (running.size > 0) await Promise.race(running);
  }
  outcome.results.sort((a, b) => a.jobId - b.jobId);
  outcome.failures.sort((a, b) => a.jobId - b.jobId);
  return outcome;
}
