/**
 * Database rows (snake_case, as both dialects return them) to domain objects.
 */
import type { CancelCause, JobKind, JobStatus, JsonValue, LogLevel, LogLine } from '../core/job.js';
import { countsFrom, type Counts } from '../core/progress.js';
import type { JobSummary, ManagerSnapshot, StepSnapshot, StoredDefinition, TextHead } from './store.js';
import type { ChangedRow, ClaimedRow, JobRow } from './tx.js';

export type Row = Record<string, unknown>;

function num(v: unknown): number {
  return typeof v === 'number' ? v : Number(v);
}
function numOrNull(v: unknown): number | null {
  return v === null || v === undefined ? null : num(v);
}
function strOrNull(v: unknown): string | null {
  return v === null || v === undefined ? null : String(v);
}

export function parseJson(v: unknown): JsonValue {
  if (v === null || v === undefined) return null;
  if (typeof v !== 'string') return v as JsonValue; // jsonb columns arrive parsed
  try {
    return JSON.parse(v) as JsonValue;
  } catch {
    return v;
  }
}

export function jobFromRow(r: Row): JobRow {
  return {
    id: num(r.id),
    kind: r.kind as JobKind,
    parentId: numOrNull(r.parent_id),
    stepId: numOrNull(r.step_id),
    managerId: num(r.manager_id),
    depth: num(r.depth),
    type: String(r.type),
    name: String(r.name),
    key: strOrNull(r.key),
    status: r.status as JobStatus,
    attempt: num(r.attempt),
    maxAttempts: num(r.max_attempts),
    priority: num(r.priority),
    runAt: numOrNull(r.run_at),
    timeoutMs: numOrNull(r.timeout_ms),
    leaseOwner: strOrNull(r.lease_owner),
    leaseToken: strOrNull(r.lease_token),
    leaseExpiresAt: numOrNull(r.lease_expires_at),
    payload: parseJson(r.payload),
    result: parseJson(r.result),
    error: strOrNull(r.error),
    cancelCause: (r.cancel_cause ?? null) as CancelCause | null,
    planned: numOrNull(r.planned),
    definitionId: strOrNull(r.definition_id),
    createdAt: num(r.created_at),
    startedAt: numOrNull(r.started_at),
    finishedAt: numOrNull(r.finished_at),
  };
}

function head(r: Row, name: string): TextHead | null {
  const h = r[`${name}_head`];
  if (h === null || h === undefined) return null;
  return { head: String(h), bytes: num(r[`${name}_bytes`]) };
}

/** A row of SUMMARY_COLS (heads instead of large values). */
export function summaryFromRow(r: Row): JobSummary {
  const { leaseToken: _t, payload: _p, result: _r, error: _e, ...rest } = jobFromRow({ ...r, payload: null, result: null, error: null });
  return {
    ...rest,
    payload: r.kind === 'worker' ? null : parseJson(r.payload),
    heads: { payload: head(r, 'payload') ?? { head: 'null', bytes: 4 }, result: head(r, 'result'), error: head(r, 'error') },
  };
}

export function changeFromRow(r: Row, prevStatus: JobStatus): ChangedRow {
  return {
    id: num(r.id),
    kind: r.kind as JobKind,
    parentId: numOrNull(r.parent_id),
    stepId: numOrNull(r.step_id),
    managerId: num(r.manager_id),
    type: String(r.type),
    name: String(r.name),
    status: r.status as JobStatus,
    attempt: num(r.attempt),
    startedAt: numOrNull(r.started_at),
    finishedAt: numOrNull(r.finished_at),
    error: strOrNull(r.error),
    prevStatus,
  };
}

export function claimedFromRow(r: Row): ClaimedRow {
  return {
    ...changeFromRow(r, 'pending'),
    payloadText: typeof r.payload === 'string' ? r.payload : JSON.stringify(r.payload ?? null),
    maxAttempts: num(r.max_attempts),
    timeoutMs: numOrNull(r.timeout_ms),
    depth: num(r.depth),
    leaseToken: String(r.lease_token),
  };
}

export function countsFromRow(r: Row | undefined, prefix = ''): Counts {
  if (!r) return countsFrom({});
  return countsFrom({
    pending: num(r[`${prefix}pending`] ?? 0),
    running: num(r[`${prefix}running`] ?? 0),
    completed: num(r[`${prefix}completed`] ?? 0),
    failed: num(r[`${prefix}failed`] ?? 0),
    cancelled: num(r[`${prefix}cancelled`] ?? 0),
  });
}

export function stepSnapshotFromRow(r: Row): StepSnapshot {
  return {
    stepId: num(r.id),
    managerId: num(r.manager_id),
    name: String(r.name),
    status: r.status as JobStatus,
    counts: countsFromRow(r),
    startedAt: numOrNull(r.started_at),
    finishedAt: numOrNull(r.finished_at),
  };
}

export function managerSnapshotFromRow(r: Row): ManagerSnapshot {
  return {
    managerId: num(r.id),
    name: String(r.name),
    definitionId: strOrNull(r.definition_id),
    createdAt: num(r.created_at),
    status: r.status as JobStatus,
    counts: countsFromRow(r),
    steps: countsFromRow(r, 's_'),
    startedAt: numOrNull(r.started_at),
    finishedAt: numOrNull(r.finished_at),
  };
}

export function logFromRow(r: Row): LogLine {
  return {
    id: num(r.id),
    jobId: num(r.job_id),
    stepId: numOrNull(r.step_id),
    managerId: num(r.manager_id),
    level: r.level as LogLevel,
    message: String(r.message),
    at: num(r.at),
  };
}

export function definitionFromRow(r: Row): StoredDefinition {
  return {
    id: String(r.id),
    name: String(r.name),
    source: String(r.source),
    format: r.format === 'json' ? 'json' : 'toml',
    file: strOrNull(r.file),
    updatedAt: num(r.updated_at),
  };
}

/** Opaque keyset cursors: the last id of the previous page. */
export function encodeCursor(id: number): string {
  return Buffer.from(JSON.stringify({ id }), 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): number | null {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { id?: unknown };
    return typeof v.id === 'number' && Number.isSafeInteger(v.id) && v.id >= 0 ? v.id : null;
  } catch {
    return null;
  }
}
