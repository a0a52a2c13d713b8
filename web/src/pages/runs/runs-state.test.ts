import { describe, expect, it } from 'vitest';
import type { ManagerProgressPayload, ServerMessage } from '../../../../src/wire/live.js';
import type { JobView } from '../../api/jobs.js';
import type { RunsFilter } from '../../api/runs.js';
import type { Status } from '../../status.js';
import { appendPage, initialRuns, mergeHead, nameMatches, reduceRuns } from './runs-state.js';

const ALL: RunsFilter = { statuses: [], definitionId: '', q: '' };

function run(id: number, status: Status = 'running'): JobView {
  return { id, status, name: `run ${id}`, createdAt: id, run: { definitionId: 'tick', params: {} } } as JobView;
}

function progress(id: number, status: Status, more: Partial<ManagerProgressPayload> = {}): ServerMessage {
  const at = more.at ?? id;
  return {
    type: 'manager_progress',
    seq: at,
    topic: 'runs',
    payload: {
      manager_id: id,
      name: `run ${id}`,
      definition_id: 'tick',
      created_at: 1000 + id,
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
      ...more,
    },
  };
}

const ids = (s: { runs: Array<{ id: number }> }): number[] => s.runs.map((r) => r.id);

describe('reduceRuns', () => {
  it('applies progress to the runs it shows', () => {
    const s = reduceRuns(initialRuns(ALL, [run(2), run(1)], null), [progress(1, 'completed')]);
    expect(s.runs[1]!.status).toBe('completed');
    expect(s.runs[1]!.progress!.counts.completed).toBe(5);
    expect(s.newerSeen).toBe(false);
  });

  it('places a new run at its place from its push, without asking for the first page', () => {
    const s = reduceRuns(initialRuns(ALL, [run(5), run(2)], 'cursor'), [progress(7, 'running'), progress(4, 'running')]);
    expect(ids(s)).toEqual([7, 5, 4, 2]);
    expect(s.newerSeen).toBe(false);
    expect(s.runs[0]).toMatchObject({ name: 'run 7', definitionId: 'tick', createdAt: 1007, status: 'running' });
    expect(s.runs[0]!.progress!.counts.total).toBe(5);
  });

  it('leaves out runs that do not match the filters, and places one when its status comes to match', () => {
    const filter: RunsFilter = { statuses: ['completed'], definitionId: 'tick', q: 'RUN' };
    let s = initialRuns(filter, [run(2, 'completed')], null);
    s = reduceRuns(s, [
      progress(5, 'running'),
      progress(6, 'completed', { definition_id: 'other' }),
      progress(7, 'completed', { name: 'nightly' }),
    ]);
    expect(ids(s)).toEqual([2]);
    expect(s.newerSeen).toBe(false);
    s = reduceRuns(s, [progress(5, 'completed', { at: 100 })]);
    expect(ids(s)).toEqual([5, 2]);
    expect(s.newerSeen).toBe(false);
  });

  it('places only runs within the loaded pages: older ones belong to pages not loaded yet', () => {
    const s = reduceRuns(initialRuns(ALL, [run(10), run(8)], 'cursor'), [progress(3, 'completed'), progress(9, 'completed')]);
    expect(ids(s)).toEqual([10, 9, 8]);
    // Once every page is loaded, any run belongs.
    const all = reduceRuns(initialRuns(ALL, [run(10), run(8)], null), [progress(3, 'completed')]);
    expect(ids(all)).toEqual([10, 8, 3]);
  });

  it('keeps a shown run that stops matching (it leaves on the next load)', () => {
    const s = reduceRuns(initialRuns({ ...ALL, statuses: ['running'] }, [run(2)], null), [progress(2, 'completed')]);
    expect(ids(s)).toEqual([2]);
    expect(s.runs[0]!.status).toBe('completed');
  });

  it('asks for the first page once when it cannot tell, and not again for a run the reload left out', () => {
    // A server whose pushes carry no creation time (and so no placement data).
    const blind = { created_at: null as unknown as number, definition_id: null };
    let s = initialRuns({ ...ALL, statuses: ['completed'] }, [run(2, 'completed')], null);
    s = reduceRuns(s, [progress(5, 'running', blind), progress(6, 'running', blind)]);
    expect(s.newerSeen).toBe(true);
    // The reload (status=completed) returns neither: they are outside the filter.
    s = mergeHead(s, []);
    expect(s.newerSeen).toBe(false);
    // Their progress goes on: no new reload while their status stays the same.
    s = reduceRuns(s, [progress(5, 'running', { ...blind, at: 100 }), progress(6, 'running', { ...blind, at: 101 })]);
    expect(s.newerSeen).toBe(false);
    // One of them completes: now it may match.
    s = reduceRuns(s, [progress(5, 'completed', { ...blind, at: 200 })]);
    expect(s.newerSeen).toBe(true);
    s = mergeHead(s, [run(5, 'completed')]);
    expect(ids(s)).toEqual([5, 2]);
  });

  it('a name search whose answer depends on the database asks the server', () => {
    const filter: RunsFilter = { ...ALL, q: 'é' };
    const s = reduceRuns(initialRuns(filter, [], null), [progress(3, 'running', { name: 'CAFÉ' })]);
    expect(ids(s)).toEqual([]);
    expect(s.newerSeen).toBe(true);
  });

  it('appends the next page without repeating runs placed meanwhile', () => {
    let s = reduceRuns(initialRuns(ALL, [run(9), run(6)], 'c'), [progress(7, 'running')]);
    s = appendPage(s, [run(5), run(4)], null);
    expect(ids(s)).toEqual([9, 7, 6, 5, 4]);
    expect(s.nextCursor).toBeNull();
  });
});

describe('nameMatches', () => {
  it('is a case-insensitive substring, and unsure only where databases fold case differently', () => {
    expect(nameMatches('Nightly Crawl', '  crawl ')).toBe(true);
    expect(nameMatches('Nightly Crawl', 'CRAWLS')).toBe(false);
    expect(nameMatches('anything', '')).toBe(true);
    expect(nameMatches('50% done_', '% done_')).toBe(true);
    expect(nameMatches('🔥 <b>x</b>', '<B>')).toBe(true);
    expect(nameMatches('Café', 'café')).toBe(true);
    expect(nameMatches('CAFÉ', 'café')).toBeNull();
    expect(nameMatches('\u212Aelvin', 'k')).toBeNull();
  });
});
