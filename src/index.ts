/**
 * stepq as a library: create an engine on a store, register step types, run definitions and await
 * their outcome — no HTTP needed.
 *
 *   const stepq = await createStepq({ store: 'sqlite:./stepq.db' });
 *   stepq.start();
 *   const run = await stepq.run({ definition: { source: toml } });
 *   const outcome = await run.done;
 */
export { createStepq, Stepq, type StepqOptions, type RunRequest, type RunOutcome, type StartedRun } from './engine/engine.js';
export { PermanentError } from './core/errors.js';
export { defineStepType, type StepType, type WorkerSpec, type RunContext, type PlanContext, type WorkerJob } from './core/step-type.js';
export { StepqError, ERROR_CODES, type ErrorCode } from './core/errors.js';
export type { Job, JobKind, JobStatus, JsonValue, LogLine, LogLevel } from './core/job.js';
export type { Counts } from './core/progress.js';
export type { StepqEvents } from './core/events.js';
export { parseDefinition, resolveRun, formatIssues } from './definitions/index.js';
export type { Definition, DefinitionIssue } from './definitions/types.js';
export type { Store } from './store/store.js';
export { SqliteStore } from './store/sqlite/sqlite-store.js';
export { buildApp, type AppOptions } from './server/app.js';
