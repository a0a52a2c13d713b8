/**
 * `script`: a step type written by the user in a module, without registering it in TypeScript. The
 * module's default export (or its named export `stepType`) has the shape of a step type: `run(job, ctx)`
 * and optionally `plan(ctx)` and a `config` schema (zod, or anything with a zod-like `safeParse`),
 * which validates `options`. The module sees `options`, parsed, as `ctx.config`.
 *
 * Modules are loaded once per resolved path per process (ES modules cannot be unloaded anyway);
 * TypeScript modules (.ts/.mts/.cts) go through tsx. Options are validated when the step plans, so a
 * bad option fails the step before any worker job exists.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import type { JsonValue } from '../core/job.js';
import { errorMessage } from '../core/errors.js';
import { defineStepType, type PlanContext, type PlanOutput, type RunContext, type WorkerJob, type WorkerSpec } from '../core/step-type.js';

export const scriptConfig = z.strictObject({
  /** Path to a .js/.mjs/.ts module, relative to the worker's current directory. */
  module: z.string().min(1),
  /** Passed to the module as `ctx.config`, after its `config` schema (if any) parsed it. */
  options: z.record(z.string(), z.json()).default({}),
});

export type ScriptConfig = z.output<typeof scriptConfig>;

interface SchemaLike {
  safeParse(
    value: unknown,
  ):
    | { success: true; data: unknown }
    | { success: false; error: { issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }> } };
}

/** What a script module exports: a step type whose `config` is optional. */
export interface ScriptStepType {
  name?: string;
  config?: SchemaLike;
  plan?(ctx: PlanContext<unknown>): PlanOutput;
  run(job: WorkerJob, ctx: RunContext<unknown>): Promise<JsonValue | void> | JsonValue | void;
}

const TS_EXTENSIONS = /\.(ts|mts|cts|tsx)$/i;
const loaded = new Map<string, Promise<ScriptStepType>>();

function isObject(value: unknown): value is Record<string, unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null;
}

async function importModule(abs: string): Promise<Record<string, unknown>> {
  const url = pathToFileURL(abs).href;
  if (!TS_EXTENSIONS.test(abs)) return (await import(url)) as Record<string, unknown>;
  let tsImport: (specifier: string, parent: string) => Promise<unknown>;
  try {
    ({ tsImport } = await import('tsx/esm/api'));
  } catch (err) {
    throw new Error(`script: loading TypeScript module ${abs} needs the "tsx" package: ${errorMessage(err)}`, { cause: err });
  }
  return (await tsImport(url, import.meta.url)) as Record<string, unknown>;
}

async function load(abs: string, written: string): Promise<ScriptStepType> {
  try {
    await fs.access(abs);
  } catch {
    throw new Error(`script: module ${abs} not found (module = "${written}", resolved against ${process.cwd()})`);
  }
  let ns: Record<string, unknown>;
  try {
    ns = await importModule(abs);
  } catch (err) {
    throw new Error(`script: cannot load module ${abs}: ${errorMessage(err)}`, { cause: err });
  }
  // A module compiled as CommonJS (a .ts file outside an ESM package) arrives wrapped: its exports
  // object is the ESM default, so look one level into it too.
  const wrapped = isObject(ns.default) ? ns.default : {};
  const candidate = [ns.default, ns.stepType, wrapped.default, wrapped.stepType].find((c) => isObject(c) && typeof c.run === 'function');
  if (!isObject(candidate) || typeof candidate.run !== 'function') {
    throw new Error(
      `script: module ${abs} exports no step type; export default (or export const stepType =) ` +
        `an object with a run(job, ctx) function`,
    );
  }
  if (candidate.plan !== undefined && typeof candidate.plan !== 'function') {
    throw new Error(`script: module ${abs}: "plan" must be a function`);
  }
  if (candidate.config !== undefined && !(isObject(candidate.config) && typeof candidate.config.safeParse === 'function')) {
    throw new Error(`script: module ${abs}: "config" must be a zod schema (an object with safeParse)`);
  }
  return candidate as unknown as ScriptStepType;
}

/** The module's step type, loaded once per resolved path. A failed load is not cached. */
export function loadScript(modulePath: string): Promise<ScriptStepType> {
  const abs = path.resolve(process.cwd(), modulePath);
  let pending = loaded.get(abs);
  if (!pending) {
    pending = load(abs, modulePath);
    loaded.set(abs, pending);
    pending.catch(() => loaded.delete(abs));
  }
  return pending;
}

function parseOptions(type: ScriptStepType, config: ScriptConfig): unknown {
  if (!type.config) return config.options;
  const parsed = type.config.safeParse(config.options);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((i) => `${i.path.map(String).join('.') || '(options)'}: ${i.message}`);
  throw new Error(`script: invalid options for ${path.resolve(config.module)}: ${issues.join('; ')}`);
}

// Explicit forwarding (not a spread): the engine's context may keep its methods on a prototype.
function planContext(ctx: PlanContext<ScriptConfig>, config: unknown): PlanContext<unknown> {
  return {
    config,
    run: ctx.run,
    signal: ctx.signal,
    log: (level, message) => ctx.log(level, message),
    dependencies: ctx.dependencies,
  };
}

function runContext(ctx: RunContext<ScriptConfig>, config: unknown): RunContext<unknown> {
  return {
    ...planContext(ctx, config),
    progress: (p) => ctx.progress(p),
    spawn: (children) => ctx.spawn(children),
  };
}

function isAsyncIterable(value: unknown): value is AsyncIterable<WorkerSpec | WorkerSpec[]> {
  return isObject(value) && Symbol.asyncIterator in value;
}

function isIterable(value: unknown): value is Iterable<WorkerSpec | WorkerSpec[]> {
  return isObject(value) && Symbol.iterator in value;
}

export const scriptStep = defineStepType<ScriptConfig>({
  name: 'script',
  description: 'Run a step type defined in a JavaScript or TypeScript module.',
  config: scriptConfig,
  // It loads and runs any module on the worker's disk: like shell, the operator enables it.
  privileged: true,

  async *plan(ctx) {
    const type = await loadScript(ctx.config.module);
    const options = parseOptions(type, ctx.config);
    // A module without plan gets one worker job, as a registered step type would.
    if (!type.plan) {
      yield [{ key: 'single', name: ctx.run.stepName }];
      return;
    }
    const out = type.plan(planContext(ctx, options));
    if (isAsyncIterable(out)) {
      for await (const item of out) yield item;
    } else if (isIterable(out)) {
      for (const item of out) yield item;
    } else {
      const awaited = await out;
      if (awaited) yield [...awaited];
    }
  },

  async run(job, ctx) {
    const type = await loadScript(ctx.config.module);
    const options = parseOptions(type, ctx.config);
    return type.run(job, runContext(ctx, options));
  },
});
