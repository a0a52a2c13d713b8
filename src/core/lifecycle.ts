/**
 * The one transition table and the one set of rules that decide how steps and runs end.
 * Stores guard every UPDATE with the `from` statuses listed here, so this file is the only place where
 * "may a job move from A to B" and "has this run failed" are decided.
 */
import type { CancelCause, JobStatus } from './job.js';
import { activeCount, type Counts } from './progress.js';

export const TRANSITIONS = {
  /** A worker takes a pending job (a worker job, or a step to plan) under a lease. */
  claim: { from: ['pending'], to: 'running' },
  /** The handler returned; requires the current lease token. */
  complete: { from: ['running'], to: 'completed' },
  /** The handler threw and no attempt is left, or the step/run ended badly. */
  fail: { from: ['running'], to: 'failed' },
  /** The handler threw (or its lease expired) with attempts left: queued again with attempt + 1. */
  backoff: { from: ['running'], to: 'pending' },
  /** A worker shutting down hands its jobs back without spending an attempt. */
  release: { from: ['running'], to: 'pending' },
  /** Set-based cancellation of everything not yet ended. */
  cancel: { from: ['pending', 'running'], to: 'cancelled' },
  /** An explicit, recorded retry: the only way out of a terminal status for a worker job. */
  retry: { from: ['failed', 'cancelled'], to: 'pending' },
  /** A step or manager whose failed jobs were retried runs again. */
  reopen: { from: ['completed', 'failed', 'cancelled'], to: 'running' },
} as const satisfies Record<string, { from: readonly JobStatus[]; to: JobStatus }>;

export type TransitionName = keyof typeof TRANSITIONS;

export function transitionFrom(name: TransitionName): readonly JobStatus[] {
  return TRANSITIONS[name].from;
}

/** Names of the transitions that lead from `from` to `to` (empty: not allowed). */
export function transitionsBetween(from: JobStatus, to: JobStatus): TransitionName[] {
  return (Object.keys(TRANSITIONS) as TransitionName[]).filter((name) => {
    const t = TRANSITIONS[name];
    return t.to === to && (t.from as readonly JobStatus[]).includes(from);
  });
}

export const ON_ERROR = ['fail', 'continue'] as const;
export type OnError = (typeof ON_ERROR)[number];

export type MaxFailures = { kind: 'count'; value: number } | { kind: 'percent'; value: number };

export const BACKOFF_TYPES = ['exponential', 'fixed', 'none'] as const;
export interface BackoffPolicy {
  type: (typeof BACKOFF_TYPES)[number];
  baseMs: number;
  maxMs: number;
}

/** Everything about a step that decides how its worker jobs run and how the step ends. */
export interface StepPolicy {
  onError: OnError;
  maxFailures: MaxFailures;
  /** Max attempts of each worker job (the definition's `retries`). */
  maxAttempts: number;
  backoff: BackoffPolicy;
  /** Per worker job; null = no timeout (the lease still guards against dead workers). */
  timeoutMs: number | null;
  /** Max running worker jobs of this step; null = only the global limit applies. */
  concurrency: number | null;
  priority: number;
}

export const DEFAULT_POLICY: StepPolicy = {
  onError: 'fail',
  maxFailures: { kind: 'count', value: 0 },
  maxAttempts: 3,
  backoff: { type: 'exponential', baseMs: 1000, maxMs: 300_000 },
  timeoutMs: null,
  concurrency: null,
  priority: 0,
};

export function describeMaxFailures(m: MaxFailures): string {
  return m.kind === 'count' ? String(m.value) : `${m.value}%`;
}

export type StepVerdict = { status: 'running' } | { status: 'completed' } | { status: 'failed'; error: string; cancelRemaining: boolean };

/**
 * How a running step stands given its worker counters. A count threshold is checked as soon as it is
 * crossed (remaining jobs are cancelled); a percentage needs the whole fan-out, so it is checked once
 * planning is done.
 */
export function stepVerdict(params: { counts: Counts; planned: boolean; policy: StepPolicy }): StepVerdict {
  const { counts, planned, policy } = params;
  const m = policy.maxFailures;
  const crossed =
    m.kind === 'count' ? counts.failed > m.value : planned && counts.total > 0 && counts.failed * 100 > m.value * counts.total;
  if (crossed) {
    return {
      status: 'failed',
      error: `${counts.failed} of ${counts.total} worker jobs failed (max_failures = ${describeMaxFailures(m)})`,
      cancelRemaining: activeCount(counts) > 0,
    };
  }
  if (planned && activeCount(counts) === 0) return { status: 'completed' };
  return { status: 'running' };
}

export interface StepState {
  id: number;
  name: string;
  status: JobStatus;
  dependsOn: readonly number[];
  onError: OnError;
  /** False while the step waits for its dependencies (pending with no run time). */
  released: boolean;
  error: string | null;
}

export interface RunPlan {
  /** Steps whose dependencies all ended well: make them claimable now. */
  release: number[];
  /** Steps that can never start because a dependency was cancelled or failed. */
  cancel: Array<{ id: number; cause: CancelCause }>;
  /** The step whose failure fails the whole run (on_error = "fail"), if any. */
  failedBy: StepState | null;
  /** The run's final status once every step has ended, else null. */
  final: 'completed' | 'failed' | 'cancelled' | null;
}

/** A dependency "ended well" when it completed, or failed under on_error = "continue". */
function endedWell(s: StepState): boolean {
  return s.status === 'completed' || (s.status === 'failed' && s.onError === 'continue');
}

/** The single rule for "has this run failed": a step failed and its on_error is "fail". */
function failsRun(s: StepState): boolean {
  return s.status === 'failed' && s.onError === 'fail';
}

export function planRun(steps: readonly StepState[]): RunPlan {
  const state = new Map(steps.map((s) => [s.id, { ...s }]));
  const plan: RunPlan = { release: [], cancel: [], failedBy: null, final: null };
  plan.failedBy = steps.find(failsRun) ?? null;
  if (!plan.failedBy) {
    // Cancelling a step can make its dependents impossible too: repeat until nothing changes.
    let changed = true;
    while (changed) {
      changed = false;
      for (const s of state.values()) {
        if (s.status !== 'pending' || s.released) continue;
        const deps = s.dependsOn.map((id) => state.get(id)).filter((d) => d !== undefined);
        if (!deps.every((d) => d.status === 'completed' || d.status === 'failed' || d.status === 'cancelled')) {
          continue;
        }
        if (deps.every(endedWell)) {
          s.released = true;
          plan.release.push(s.id);
        } else {
          s.status = 'cancelled';
          plan.cancel.push({ id: s.id, cause: 'dependency' });
          changed = true;
        }
      }
    }
  }
  const all = [...state.values()];
  if (plan.failedBy) {
    // The run fails at once; the store cancels whatever is still pending or running in it.
    plan.final = 'failed';
  } else if (all.every((s) => s.status === 'completed' || s.status === 'failed' || s.status === 'cancelled')) {
    plan.final = all.some((s) => s.status === 'cancelled') ? 'cancelled' : 'completed';
  }
  return plan;
}
