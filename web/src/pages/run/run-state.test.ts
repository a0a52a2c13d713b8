import { describe, expect, it } from 'vitest';
import type { ServerMessage, StepProgressPayload } from '../../../../src/wire/live.js';
import { EMPTY_COUNTS, type JobDetailView, type JobView } from '../../api/jobs.js';
import { reduceRun } from './run-state.js';

function job(id: number, kind: JobView['kind']): JobView {
  return {
    id,
    kind,
    parentId: kind === 'manager' ? null : 1,
    stepId: null,
    managerId: 1,
    depth: kind === 'manager' ? 0 : 1,
    type: 'synthetic',
    name: `job ${id}`,
    status: 'running',
    attempt: 1,
    maxAttempts: 1,
    createdAt: 0,
    startedAt: 0,
    finishedAt: null,
    payload: null,
    result: null,
    error: null,
    progress: { status: 'running', counts: EMPTY_COUNTS, steps: null, ratePerSec: 0, etaMs: null, startedAt: 0, finishedAt: null, at: 0 },
    step: null,
    run: null,
  };
}

function stepProgress(stepId: number, at: number, completed: number, status: StepProgressPayload['status'] = 'running'): ServerMessage {
  return {
    type: 'step_progress',
    seq: at,
    topic: 'run:1',
    payload: {
      step_id: stepId,
      manager_id: 1,
      name: `step ${stepId}`,
      status,
      pending: 10 - completed,
      running: 0,
      completed,
      failed: 0,
      cancelled: 0,
      total: 10,
      rate_per_sec: 1,
      eta_ms: null,
      started_at: 0,
      finished_at: status === 'running' ? null : at,
      at,
    },
  };
}

describe('reduceRun', () => {
  const run: JobDetailView = { ...job(1, 'manager'), retries: [] };
  const state = { run, steps: [job(2, 'step'), job(3, 'step')] };

  it('gives each step its own counts, never another step or the run totals', () => {
    const next = reduceRun(state, [stepProgress(2, 10, 4), stepProgress(3, 11, 7)]);
    expect(next.steps[0]!.progress!.counts.completed).toBe(4);
    expect(next.steps[1]!.progress!.counts.completed).toBe(7);
    expect(next.run).toBe(state.run);
  });

  it('ignores a progress snapshot older than the one it has', () => {
    const a = reduceRun(state, [stepProgress(2, 20, 9, 'completed')]);
    const b = reduceRun(a, [stepProgress(2, 15, 3)]);
    expect(b.steps[0]!.progress!.counts.completed).toBe(9);
    expect(b.steps[0]!.status).toBe('completed');
  });

  it('returns the same state for messages about nothing it shows', () => {
    expect(reduceRun(state, [stepProgress(99, 1, 1)])).toBe(state);
  });
});
