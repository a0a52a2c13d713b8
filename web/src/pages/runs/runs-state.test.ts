import { describe, expect, it } from 'vitest';
import type { ServerMessage } from '../../../../src/wire/live.js';
import type { JobView } from '../../api/jobs.js';
import type { Status } from '../../status.js';
import { initialRuns, mergeHead, reduceRuns } from './runs-state.js';

function run(id: number, status: Status = 'running'): JobView {
  return { id, status, name: `run ${id}` } as JobView;
}

function progress(id: number, status: Status, at = id): ServerMessage {
  return {
    type: 'manager_progress',
    seq: at,
    topic: 'runs',
    payload: {
      manager_id: id,
      name: `run ${id}`,
      status,
      pending: 0,
      running: 0,
      completed: 5,
      failed: 0,
      cancelled: 0,
      total: 5,
      rate_per_sec: 0,
      eta_ms: null,
      started_at: 0,
      finished_at: null,
      at,
      steps: { pending: 0, running: 0, completed: 1, failed: 0, cancelled: 0, total: 1 },
    },
  };
}

describe('reduceRuns', () => {
  it('applies progress to the runs it shows', () => {
    const s = reduceRuns(initialRuns([run(2), run(1)], null), [progress(1, 'completed')]);
    expect(s.runs[1]!.status).toBe('completed');
    expect(s.newerSeen).toBe(false);
  });

  it('asks for the first page once for newer runs, and not again for a run the filter leaves out', () => {
    let s = initialRuns([run(2, 'completed')], null);
    s = reduceRuns(s, [progress(5, 'running'), progress(6, 'running')]);
    expect(s.newerSeen).toBe(true);
    // The reload (status=completed) returns neither: they are outside the filter.
    s = mergeHead(s, []);
    expect(s.newerSeen).toBe(false);
    // Their progress goes on: no new reload while their status stays the same.
    s = reduceRuns(s, [progress(5, 'running', 100), progress(6, 'running', 101)]);
    expect(s.newerSeen).toBe(false);
    // One of them completes: now it may match.
    s = reduceRuns(s, [progress(5, 'completed', 200)]);
    expect(s.newerSeen).toBe(true);
    s = mergeHead(s, [run(5, 'completed')]);
    expect(s.runs.map((r) => r.id)).toEqual([5, 2]);
  });

  it('ignores runs older than the newest shown (they belong to pages not loaded)', () => {
    const s = reduceRuns(initialRuns([run(10)], 'cursor'), [progress(3, 'running')]);
    expect(s.newerSeen).toBe(false);
  });
});
