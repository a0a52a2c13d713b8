/**
 * Domain objects → wire shapes (snake_case, capped previews). The one place the server decides what
 * a client sees of a job.
 */
import type { Counts } from '../core/progress.js';
import type { JobStatusChange, JobLogBatch, ManagerProgress, StepProgress } from '../core/events.js';
import type { Job, JsonValue, LogLine } from '../core/job.js';
import { describeMaxFailures } from '../core/lifecycle.js';
import type { StoredDefinitionView } from '../engine/engine.js';
import type { Definition, DefinitionIssue } from '../definitions/types.js';
import { stepPayloadOf, managerPayloadOf, type JobSummary, type TextHead } from '../store/store.js';
import type { WireCounts, WireDefinition, WireDefinitionIssue, WireJob, WireLogLine, WirePreview, WireProgress } from '../wire/api.js';
import type { JobStatusChangePayload, ManagerProgressPayload, StepProgressPayload } from '../wire/live.js';

/** Preview sizes: lists stay small whatever the payload (a 10 MB payload must not slow a list). */
export const LIST_PREVIEW_CHARS = 240;
export const DETAIL_PREVIEW_CHARS = 4096;

export function preview(value: JsonValue | string | null, max: number, asText = false): WirePreview {
  const text = asText && typeof value === 'string' ? value : JSON.stringify(value ?? null);
  const bytes = Buffer.byteLength(text, 'utf8');
  return text.length > max ? { preview: text.slice(0, max), bytes, truncated: true } : { preview: text, bytes, truncated: false };
}

export function wireCounts(c: Counts): WireCounts {
  return { pending: c.pending, running: c.running, completed: c.completed, failed: c.failed, cancelled: c.cancelled, total: c.total };
}

export function wireStepProgress(p: StepProgress): WireProgress {
  return {
    status: p.status,
    counts: wireCounts(p.counts),
    rate_per_sec: p.ratePerSec,
    eta_ms: p.etaMs,
    started_at: p.startedAt,
    finished_at: p.finishedAt,
    at: p.at,
  };
}

export function wireRunProgress(p: ManagerProgress): WireProgress {
  return { ...wireStepProgress({ ...p, stepId: p.managerId }), steps: wireCounts(p.steps) };
}

function fromHead(h: TextHead): WirePreview {
  return { preview: h.head, bytes: h.bytes, truncated: Buffer.byteLength(h.head, 'utf8') < h.bytes };
}

/** A job of a list: large values arrive from the store already cut. */
export function wireJobSummary(job: JobSummary, opts: { previewChars: number; progress?: WireProgress }): WireJob {
  const w = wireJob({ ...job, payload: job.payload, result: null, error: null }, opts);
  if (job.kind === 'worker') w.payload = fromHead(job.heads.payload);
  w.result = job.heads.result ? fromHead(job.heads.result) : null;
  w.error = job.heads.error ? fromHead(job.heads.error) : null;
  return w;
}

export function wireJob(job: Job, opts: { previewChars: number; progress?: WireProgress }): WireJob {
  const w: WireJob = {
    id: job.id,
    kind: job.kind,
    parent_id: job.parentId,
    step_id: job.stepId,
    manager_id: job.managerId,
    depth: job.depth,
    type: job.type,
    name: job.name,
    status: job.status,
    attempt: job.attempt,
    max_attempts: job.maxAttempts,
    priority: job.priority,
    run_at: job.runAt,
    created_at: job.createdAt,
    started_at: job.startedAt,
    finished_at: job.finishedAt,
    payload: preview(job.kind === 'worker' ? job.payload : null, opts.previewChars),
    result: job.result === null ? null : preview(job.result, opts.previewChars),
    error: job.error === null ? null : preview(job.error, opts.previewChars, true),
  };
  if (opts.progress) w.progress = opts.progress;
  if (job.kind === 'step') {
    const p = stepPayloadOf(job);
    w.step = {
      depends_on: p.dependsOn,
      description: p.description ?? null,
      planned: job.planned,
      policy: {
        on_error: p.policy.onError,
        max_failures: describeMaxFailures(p.policy.maxFailures),
        retries: p.policy.maxAttempts,
        backoff: { type: p.policy.backoff.type, base_ms: p.policy.backoff.baseMs, max_ms: p.policy.backoff.maxMs },
        timeout_ms: p.policy.timeoutMs,
        concurrency: p.policy.concurrency,
        priority: p.policy.priority,
      },
    };
    // A step's config is shown in its payload preview.
    w.payload = preview(p.config, opts.previewChars);
  }
  if (job.kind === 'manager') {
    const p = managerPayloadOf(job);
    w.run = { definition_id: p.definitionId, params: p.params };
    w.payload = preview(p.params as JsonValue, opts.previewChars);
  }
  return w;
}

export function wireLog(l: LogLine): WireLogLine {
  return { id: l.id, job_id: l.jobId, step_id: l.stepId, manager_id: l.managerId, level: l.level, message: l.message, at: l.at };
}

export function wireLogBatchLines(b: JobLogBatch): WireLogLine[] {
  return b.lines.map((l) => ({
    id: l.id,
    job_id: l.jobId,
    step_id: b.stepId,
    manager_id: b.managerId,
    level: l.level,
    message: l.message,
    at: l.at,
  }));
}

export function liveJobChange(e: JobStatusChange): JobStatusChangePayload {
  return {
    job_id: e.jobId,
    parent_id: e.parentId,
    step_id: e.stepId,
    manager_id: e.managerId,
    kind: e.kind,
    type: e.type,
    name: e.name,
    status: e.status,
    attempt: e.attempt,
    started_at: e.startedAt,
    finished_at: e.finishedAt,
    error: e.error,
  };
}

export function liveStepProgress(p: StepProgress): StepProgressPayload {
  return {
    step_id: p.stepId,
    manager_id: p.managerId,
    name: p.name,
    status: p.status,
    ...wireCounts(p.counts),
    rate_per_sec: p.ratePerSec,
    eta_ms: p.etaMs,
    started_at: p.startedAt,
    finished_at: p.finishedAt,
    at: p.at,
  };
}

export function liveManagerProgress(p: ManagerProgress): ManagerProgressPayload {
  return {
    manager_id: p.managerId,
    name: p.name,
    definition_id: p.definitionId,
    created_at: p.createdAt,
    status: p.status,
    ...wireCounts(p.counts),
    steps: wireCounts(p.steps),
    rate_per_sec: p.ratePerSec,
    eta_ms: p.etaMs,
    started_at: p.startedAt,
    finished_at: p.finishedAt,
    at: p.at,
  };
}

export function wireIssue(i: DefinitionIssue): WireDefinitionIssue {
  return {
    path: i.path,
    message: i.message,
    ...(i.file !== undefined ? { file: i.file } : {}),
    ...(i.line !== undefined ? { line: i.line } : {}),
    ...(i.column !== undefined ? { column: i.column } : {}),
  };
}

export function wireDefinitionSummary(def: Definition): Omit<WireDefinition, 'valid' | 'issues' | 'file' | 'updated_at'> {
  return {
    id: def.id,
    name: def.name,
    description: def.description ?? null,
    tags: def.tags,
    schedule: def.schedule ?? null,
    enabled: def.enabled,
    params: Object.fromEntries(
      Object.entries(def.params).map(([k, p]) => [
        k,
        {
          type: p.type,
          required: p.required,
          ...(p.default !== undefined ? { default: p.default } : {}),
          ...(p.description !== undefined ? { description: p.description } : {}),
        },
      ]),
    ),
    steps: def.steps.map((s) => ({ name: s.name, type: s.type, depends_on: s.dependsOn, description: s.description ?? null })),
  };
}

export function wireDefinition(v: StoredDefinitionView): WireDefinition {
  const base = v.definition
    ? wireDefinitionSummary(v.definition)
    : { id: v.id, name: v.name, description: null, tags: [], schedule: null, enabled: false, params: {}, steps: [] };
  return { ...base, valid: v.valid, issues: v.issues.map(wireIssue), file: v.file, updated_at: v.updatedAt };
}
