/**
 * The HTTP API's shapes, shared (type-only) by the server and the web page. Field names are
 * snake_case on the wire. Times are epoch milliseconds.
 */

export type WireJobKind = 'manager' | 'step' | 'worker';
export type WireJobStatus = 'pending' | 'running' | 'completed' | 'failed' | 'cancelled';
export type WireLogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface WireCounts {
  pending: number;
  running: number;
  completed: number;
  failed: number;
  cancelled: number;
  total: number;
}

/**
 * A capped view of a possibly large value: `preview` is its JSON text (for `error`, the text itself)
 * cut to a few hundred characters in lists, a few KB for one job; `bytes` is the full size. The full
 * value is at GET /api/jobs/:id/payload (or /result, /error).
 */
export interface WirePreview {
  preview: string;
  bytes: number;
  truncated: boolean;
}

export interface WireProgress {
  status: WireJobStatus;
  /** Worker jobs by status (for a run: all its steps' worker jobs). */
  counts: WireCounts;
  /** For a run: its steps by status. */
  steps?: WireCounts;
  rate_per_sec: number;
  eta_ms: number | null;
  started_at: number | null;
  finished_at: number | null;
  /** Server time of this snapshot: a client keeps the newest of pushed and fetched snapshots. */
  at: number;
}

export interface WireStepPolicy {
  on_error: 'fail' | 'continue';
  max_failures: string;
  retries: number;
  backoff: { type: string; base_ms: number; max_ms: number };
  timeout_ms: number | null;
  concurrency: number | null;
  priority: number;
}

export interface WireJob {
  id: number;
  kind: WireJobKind;
  parent_id: number | null;
  step_id: number | null;
  manager_id: number;
  depth: number;
  type: string;
  name: string;
  status: WireJobStatus;
  attempt: number;
  max_attempts: number;
  priority: number;
  run_at: number | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  payload: WirePreview;
  result: WirePreview | null;
  error: WirePreview | null;
  /** Managers and steps: their live progress. */
  progress?: WireProgress;
  /** Steps: how they run. */
  step?: {
    depends_on: string[];
    description: string | null;
    policy: WireStepPolicy;
    planned: number | null;
  };
  /** Managers: which definition ran, with which params. */
  run?: {
    definition_id: string;
    params: Record<string, unknown>;
  };
}

export interface WireJobDetail extends WireJob {
  /** Recorded retries of this job (terminal → pending). */
  retries: Array<{ at: number; from_status: WireJobStatus; attempt: number }>;
}

export interface WirePage<T> {
  data: T[];
  next_cursor: string | null;
}

export interface WireLogLine {
  id: number;
  job_id: number;
  step_id: number | null;
  manager_id: number;
  level: WireLogLevel;
  message: string;
  at: number;
}

export interface WireStats {
  /** Runs (manager jobs) by status, from counters. */
  runs: WireCounts;
}

export interface WireDefinitionIssue {
  file?: string;
  line?: number;
  column?: number;
  path: string;
  message: string;
}

export interface WireParamSpec {
  type: 'string' | 'number' | 'integer' | 'boolean';
  default?: string | number | boolean;
  description?: string;
  required: boolean;
}

export interface WireDefinition {
  id: string;
  name: string;
  valid: boolean;
  issues: WireDefinitionIssue[];
  file: string | null;
  updated_at: number | null;
  description: string | null;
  tags: string[];
  schedule: string | null;
  enabled: boolean;
  params: Record<string, WireParamSpec>;
  steps: Array<{ name: string; type: string; depends_on: string[]; description: string | null }>;
}

export interface WireDefinitionDetail extends WireDefinition {
  source: string;
}

export interface WireValidation {
  valid: boolean;
  issues: WireDefinitionIssue[];
  definition?: WireDefinition;
}

export interface WireStepType {
  name: string;
  description: string | null;
  enabled: boolean;
}

/** Every error response: `{ "error": { code, message, details } }`. */
export interface WireError {
  error: { code: string; message: string; details?: unknown };
}

/** Answers of actions: what actually happened. */
export interface WireAffected {
  affected: number;
}
export interface WireDeleted {
  affected: { jobs: number; logs: number };
}
export interface WireStarted {
  manager_id: number;
}
