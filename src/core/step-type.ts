/**
 * The shape of a step type: the code behind a step. Built-in types (src/steps/) and users' own types
 * (registered in TypeScript, or loaded by the `script` step type from a module) all implement this.
 *
 * A step runs in two phases:
 * 1. `plan(ctx)` fans out worker jobs. It may return an array, or yield jobs (one by one or in arrays)
 *    from a generator: the engine inserts them in batches as they come, so a fan-out of millions never
 *    sits in memory at once. Without `plan`, the step gets one worker job.
 * 2. `run(job, ctx)` does one worker job and returns its JSON result. It may `spawn` child jobs, which
 *    count toward the step: the step ends only when its last descendant ends.
 */
import type { z } from 'zod';
import type { JsonValue, LogLevel } from './job.js';

export interface WorkerSpec {
  /** Shown in lists and searchable; defaults to the step name and a sequence number. */
  name?: string;
  payload?: JsonValue;
  /**
   * Unique within the step. Inserting a job whose key exists is a no-op, which makes planning
   * idempotent (a re-planned step does not duplicate jobs) and deduplicates spawned work (the crawler
   * spawns one job per URL, whatever the number of pages that link to it).
   */
  key?: string;
  /** Added to the step's priority; higher runs first. */
  priority?: number;
  /** Run no earlier than this many milliseconds from now. */
  delayMs?: number;
}

export interface RunInfo {
  managerId: number;
  stepId: number;
  stepName: string;
  definitionId: string;
  params: Record<string, JsonValue>;
  /** When the run was created (epoch ms): with managerId, tells runs of different stores apart. */
  createdAt: number;
}

export interface StepResult {
  jobId: number;
  name: string;
  payload: JsonValue;
  result: JsonValue;
}

export interface StepFailure {
  jobId: number;
  name: string;
  payload: JsonValue;
  error: string;
}

export interface DependencyAccess {
  /** Names of the steps this step depends on. */
  readonly names: readonly string[];
  /** The step type of a dependency (e.g. `files`), so a consumer knows the shape of its results. */
  stepType(stepName: string): string | undefined;
  /** Results of the completed worker jobs of one dependency, in job order, read page by page. */
  results(stepName: string): AsyncIterable<StepResult>;
  /** The failed worker jobs of one dependency with their errors, in job order. */
  failures(stepName: string): AsyncIterable<StepFailure>;
  /** Counts of the dependency's worker jobs by status. */
  counts(stepName: string): Promise<{ completed: number; failed: number; cancelled: number; total: number }>;
}

export interface BaseContext<C> {
  config: C;
  run: RunInfo;
  /** Aborted on cancellation, timeout, lease loss or shutdown; pass it to fetch, child processes, streams. */
  signal: AbortSignal;
  log(level: LogLevel, message: string): void;
  dependencies: DependencyAccess;
}

export type PlanContext<C> = BaseContext<C>;

export interface RunContext<C> extends BaseContext<C> {
  /** Report progress within this job (shown live to whoever watches the step). */
  progress(p: { done?: number; total?: number; message?: string }): void;
  /** Creates child jobs under this job; they belong to the same step. Returns how many were new. */
  spawn(children: WorkerSpec[]): Promise<{ created: number }>;
}

export interface WorkerJob {
  id: number;
  name: string;
  payload: JsonValue;
  attempt: number;
  maxAttempts: number;
  depth: number;
  parentId: number | null;
}

export type PlanOutput =
  Iterable<WorkerSpec | WorkerSpec[]> | AsyncIterable<WorkerSpec | WorkerSpec[]> | Promise<Iterable<WorkerSpec> | void> | void;

export interface StepType<C = unknown> {
  name: string;
  description?: string;
  /** Validates the step's own keys in the definition (everything besides the common step options). */
  config: z.ZodType<C>;
  /** True for types that run arbitrary programs; the operator must enable them explicitly. */
  privileged?: boolean;
  plan?(ctx: PlanContext<C>): PlanOutput;
  run(job: WorkerJob, ctx: RunContext<C>): Promise<JsonValue | void> | JsonValue | void;
}

/** Identity helper that keeps the config type when declaring a step type. */
export function defineStepType<C>(type: StepType<C>): StepType<C> {
  return type;
}
