/**
 * The store contract: every Store implementation must pass this suite unchanged.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { StepqError } from '../../src/core/errors.js';
import type { Store } from '../../src/store/store.js';
import { storeFactories, suiteName, type StoreUnderTest } from '../helpers/stores.js';
import { claimAll, newRun, planStep } from './fixtures.js';

for (const factory of storeFactories) {
  describe.skipIf(!!factory.skipReason)(suiteName('store contract', factory), () => {
    let sut: StoreUnderTest;
    let store: Store;
    let clock: ManualClock;

    beforeEach(async () => {
      clock = new ManualClock();
      sut = await factory.make({ clock });
      store = sut.store;
    });
    afterEach(async () => {
      await sut.close();
    });

    async function expectCountersExact(stepId: number, managerId: number): Promise<void> {
      expect(await store.getProgress(stepId)).toEqual(await sut.countWorkers({ stepId }));
      expect(await store.getProgress(managerId)).toEqual(await sut.countWorkers({ managerId }));
    }

    it('creates a run: manager running, steps pending, only steps without dependencies claimable', async () => {
      const { manager, steps } = await store.createRun(newRun([{ name: 'a' }, { name: 'b', dependsOn: ['a'] }]));
      expect(manager).toMatchObject({ kind: 'manager', status: 'running', parentId: null, managerId: manager.id, depth: 0 });
      expect(steps.map((s) => [s.name, s.status, s.kind, s.parentId, s.depth])).toEqual([
        ['a', 'pending', 'step', manager.id, 1],
        ['b', 'pending', 'step', manager.id, 1],
      ]);
      expect(steps[0]!.runAt).not.toBeNull();
      expect(steps[1]!.runAt).toBeNull();
      const snap = await store.getManagerSnapshot(manager.id);
      expect(snap?.steps).toMatchObject({ pending: 2, total: 2 });
      expect((await store.getStats()).runs).toMatchObject({ running: 1, total: 1 });
      const { jobs } = await store.claim({ owner: 'w', limit: 10, leaseMs: 1000 });
      expect(jobs.map((j) => j.name)).toEqual(['a']);
    });

    it('a run with no steps completes at once', async () => {
      const { manager } = await store.createRun(newRun([]));
      expect((await store.getJob(manager.id))?.status).toBe('completed');
      expect((await store.getStats()).runs).toMatchObject({ completed: 1, running: 0 });
    });

    it('a step with no jobs ends when planned, releasing its dependents, then the run ends', async () => {
      const { manager, steps } = await store.createRun(newRun([{ name: 'a' }, { name: 'b', dependsOn: ['a'] }]));
      await planStep(store, steps[0]!.id, 0);
      expect((await store.getJob(steps[0]!.id))?.status).toBe('completed');
      expect((await store.getJob(steps[1]!.id))?.runAt).not.toBeNull();
      await planStep(store, steps[1]!.id, 0);
      expect((await store.getJob(manager.id))?.status).toBe('completed');
    });

    it('dedupes keyed jobs within a step and requires the inserter to hold its lease', async () => {
      const { steps } = await store.createRun(newRun([{ name: 'a' }]));
      const { jobs } = await store.claim({ owner: 'w', limit: 1, leaseMs: 1000 });
      const step = jobs[0]!;
      const first = await store.enqueueMany({
        stepId: step.id,
        parentId: step.id,
        token: step.leaseToken,
        jobs: [{ key: 'x' }, { key: 'y' }],
      });
      const again = await store.enqueueMany({
        stepId: step.id,
        parentId: step.id,
        token: step.leaseToken,
        jobs: [{ key: 'x' }, { key: 'z' }, {}],
      });
      expect(first.inserted).toBe(2);
      expect(again.inserted).toBe(2);
      await expect(store.enqueueMany({ stepId: step.id, parentId: step.id, token: 'wrong', jobs: [{}] })).rejects.toMatchObject({
        code: 'ERR_LEASE_LOST',
      });
      expect((await store.getProgress(steps[0]!.id))?.total).toBe(4);
    });

    it('completes only with the current lease token; a late answer changes nothing', async () => {
      const { manager, steps } = await store.createRun(newRun([{ name: 'a', policy: { maxAttempts: 2 } }]));
      await planStep(store, steps[0]!.id, 1);
      const [job] = await claimAll(store, 'w1', 10, 1000);
      expect(job).toBeDefined();
      // The lease expires and the job is rescued and claimed by another worker.
      clock.advance(1001);
      expect((await store.rescueExpiredLeases({ limit: 10 })).affected).toBe(1);
      const [again] = await claimAll(store, 'w2');
      expect(again!.id).toBe(job!.id);
      expect(again!.attempt).toBe(2);
      const late = await store.acknowledge({ acks: [{ id: job!.id, token: job!.leaseToken, status: 'completed', result: 'late' }] });
      expect(late.lost).toEqual([job!.id]);
      expect((await store.getJob(job!.id))?.status).toBe('running');
      const ok = await store.acknowledge({ acks: [{ id: again!.id, token: again!.leaseToken, status: 'completed', result: 'ok' }] });
      expect(ok.lost).toEqual([]);
      expect(await store.getJob(job!.id)).toMatchObject({ status: 'completed', result: 'ok', attempt: 2 });
      expect((await store.getJob(manager.id))?.status).toBe('completed');
      await expectCountersExact(steps[0]!.id, manager.id);
    });

    it('heartbeats keep a lease; without them it expires: one more attempt for a lost worker, then failed', async () => {
      const { manager, steps } = await store.createRun(newRun([{ name: 'a', policy: { maxAttempts: 1 } }]));
      await planStep(store, steps[0]!.id, 1);
      const [job] = await claimAll(store, 'w1', 10, 1000);
      clock.advance(800);
      expect((await store.heartbeat({ owner: 'w1', leaseMs: 1000, ids: [job!.id] })).held).toEqual([job!.id]);
      clock.advance(800);
      expect((await store.rescueExpiredLeases({ limit: 10 })).affected).toBe(0);
      expect((await store.heartbeat({ owner: 'other', leaseMs: 1000, ids: [job!.id] })).held).toEqual([]);
      clock.advance(300);
      expect((await store.rescueExpiredLeases({ limit: 10 })).affected).toBe(1);
      // retries = 1, but a dead worker is not the job's fault: it runs once more.
      expect(await store.getJob(job!.id)).toMatchObject({ status: 'pending', attempt: 2 });
      const [again] = await claimAll(store, 'w2', 10, 1000);
      expect(again?.id).toBe(job!.id);
      clock.advance(1001);
      expect((await store.rescueExpiredLeases({ limit: 10 })).affected).toBe(1);
      const failed = await store.getJob(job!.id);
      expect(failed).toMatchObject({ status: 'failed' });
      expect(failed?.error).toContain('ERR_LEASE_EXPIRED');
      expect((await store.getJob(manager.id))?.status).toBe('failed');
      await expectCountersExact(steps[0]!.id, manager.id);
    });

    it('backoff puts a job back to pending with attempt + 1, claimable only from its retry time', async () => {
      const { steps } = await store.createRun(newRun([{ name: 'a', policy: { maxAttempts: 3 } }]));
      await planStep(store, steps[0]!.id, 1);
      const [job] = await claimAll(store);
      await store.acknowledge({ acks: [{ id: job!.id, token: job!.leaseToken, status: 'failed', error: 'boom', retryInMs: 5000 }] });
      expect(await store.getJob(job!.id)).toMatchObject({ status: 'pending', attempt: 2, error: 'boom' });
      expect(await claimAll(store)).toEqual([]);
      clock.advance(5000);
      const [again] = await claimAll(store);
      expect(again).toMatchObject({ id: job!.id, attempt: 2 });
    });

    it('a worker that spawns keeps its step open until the deepest descendant ends', async () => {
      const { manager, steps } = await store.createRun(newRun([{ name: 'a' }]));
      const stepId = steps[0]!.id;
      await planStep(store, stepId, 1);
      let depth = 2;
      for (let level = 0; level < 5; level++) {
        const [job] = await claimAll(store);
        expect(job!.depth).toBe(depth);
        if (level < 4) {
          await store.enqueueMany({ stepId, parentId: job!.id, token: job!.leaseToken, jobs: [{ key: `child-${level}` }] });
        }
        await store.acknowledge({ acks: [{ id: job!.id, token: job!.leaseToken, status: 'completed', result: level }] });
        const status = (await store.getJob(stepId))?.status;
        expect(status).toBe(level < 4 ? 'running' : 'completed');
        depth += 1;
      }
      expect((await store.getJob(manager.id))?.status).toBe('completed');
      expect(await store.getProgress(stepId)).toMatchObject({ completed: 5, total: 5 });
      await expectCountersExact(stepId, manager.id);
    });

    it('crossing max_failures (a count) fails the step, cancels its remaining jobs and fails the run', async () => {
      const { manager, steps } = await store.createRun(
        newRun([
          { name: 'a', policy: { maxFailures: { kind: 'count', value: 1 } } },
          { name: 'b', dependsOn: ['a'] },
        ]),
      );
      await planStep(store, steps[0]!.id, 10);
      const jobs = await claimAll(store, 'w', 3);
      await store.acknowledge({ acks: [{ id: jobs[0]!.id, token: jobs[0]!.leaseToken, status: 'failed', error: 'e1', retryInMs: null }] });
      expect((await store.getJob(steps[0]!.id))?.status).toBe('running');
      await store.acknowledge({ acks: [{ id: jobs[1]!.id, token: jobs[1]!.leaseToken, status: 'failed', error: 'e2', retryInMs: null }] });
      const step = await store.getJob(steps[0]!.id);
      expect(step?.status).toBe('failed');
      expect(step?.error).toContain('2 of 10 worker jobs failed (max_failures = 1)');
      expect(await store.getProgress(steps[0]!.id)).toMatchObject({ failed: 2, cancelled: 8, pending: 0, running: 0 });
      expect(await store.getJob(steps[1]!.id)).toMatchObject({ status: 'cancelled' });
      const m = await store.getJob(manager.id);
      expect(m?.status).toBe('failed');
      expect(m?.error).toContain('Step "a" failed');
      await expectCountersExact(steps[0]!.id, manager.id);
    });

    it('max_failures as a percentage is judged on the whole fan-out', async () => {
      const { manager, steps } = await store.createRun(newRun([{ name: 'a', policy: { maxFailures: { kind: 'percent', value: 10 } } }]));
      await planStep(store, steps[0]!.id, 20);
      const jobs = await claimAll(store);
      const acks = jobs.map((j, i) =>
        i < 2
          ? { id: j.id, token: j.leaseToken, status: 'failed' as const, error: 'x', retryInMs: null }
          : { id: j.id, token: j.leaseToken, status: 'completed' as const, result: null },
      );
      await store.acknowledge({ acks });
      expect((await store.getJob(steps[0]!.id))?.status).toBe('completed'); // 2 of 20 = 10%: not over
      expect((await store.getJob(manager.id))?.status).toBe('completed');

      const run2 = await store.createRun(newRun([{ name: 'a', policy: { maxFailures: { kind: 'percent', value: 10 } } }]));
      await planStep(store, run2.steps[0]!.id, 20);
      const jobs2 = await claimAll(store);
      await store.acknowledge({
        acks: jobs2.map((j, i) =>
          i < 3
            ? { id: j.id, token: j.leaseToken, status: 'failed' as const, error: 'x', retryInMs: null }
            : { id: j.id, token: j.leaseToken, status: 'completed' as const, result: null },
        ),
      });
      expect((await store.getJob(run2.steps[0]!.id))?.status).toBe('failed'); // 15% > 10%
    });

    it('on_error = continue: a failed step lets its dependents run and the run completes', async () => {
      const { manager, steps } = await store.createRun(
        newRun([
          { name: 'a', policy: { onError: 'continue' } },
          { name: 'b', dependsOn: ['a'] },
        ]),
      );
      await planStep(store, steps[0]!.id, 1);
      const [job] = await claimAll(store);
      await store.acknowledge({ acks: [{ id: job!.id, token: job!.leaseToken, status: 'failed', error: 'x', retryInMs: null }] });
      expect((await store.getJob(steps[0]!.id))?.status).toBe('failed');
      expect((await store.getJob(steps[1]!.id))?.runAt).not.toBeNull();
      await planStep(store, steps[1]!.id, 0);
      expect((await store.getJob(manager.id))?.status).toBe('completed');
    });

    it('cancels a run set-based: every pending job, the steps and the manager; a second cancel affects nothing', async () => {
      const { manager, steps } = await store.createRun(newRun([{ name: 'a' }, { name: 'b', dependsOn: ['a'] }]));
      await planStep(store, steps[0]!.id, 10_000);
      const running = await store.claim({ owner: 'w', limit: 5, leaseMs: 1000 });
      const r = await store.cancel({ id: manager.id });
      expect(r.affected).toBe(10_000 + 2 + 1);
      expect(await store.getProgress(manager.id)).toMatchObject({ cancelled: 10_000, pending: 0, running: 0, total: 10_000 });
      expect((await store.getJob(manager.id))?.status).toBe('cancelled');
      expect((await store.getJob(steps[1]!.id))?.status).toBe('cancelled');
      const late = await store.acknowledge({
        acks: running.jobs.map((j) => ({ id: j.id, token: j.leaseToken, status: 'completed' as const, result: null })),
      });
      expect(late.lost.length).toBe(5);
      expect((await store.cancel({ id: manager.id })).affected).toBe(0);
      expect(await claimAll(store)).toEqual([]);
      expect((await store.getStats()).runs).toMatchObject({ cancelled: 1, running: 0 });
      expect((await store.getStats()).jobs).toMatchObject({ cancelled: 10_000, pending: 0, running: 0, total: 10_000 });
      await expectCountersExact(steps[0]!.id, manager.id);
    });

    it('cancels one step: its dependents are cancelled, the independent ones go on', async () => {
      const { manager, steps } = await store.createRun(newRun([{ name: 'a' }, { name: 'b', dependsOn: ['a'] }, { name: 'c' }]));
      await planStep(store, steps[0]!.id, 3);
      await store.cancel({ id: steps[0]!.id });
      expect((await store.getJob(steps[1]!.id))?.status).toBe('cancelled');
      expect((await store.getJob(steps[2]!.id))?.status).toBe('pending');
      await planStep(store, steps[2]!.id, 0);
      expect((await store.getJob(manager.id))?.status).toBe('cancelled');
    });

    it('cancels one worker job with its spawned subtree', async () => {
      const { steps } = await store.createRun(newRun([{ name: 'a' }]));
      const stepId = steps[0]!.id;
      await planStep(store, stepId, 2);
      const [parent, other] = await claimAll(store);
      await store.enqueueMany({ stepId, parentId: parent!.id, token: parent!.leaseToken, jobs: [{ key: 'c1' }, { key: 'c2' }] });
      const r = await store.cancel({ id: parent!.id });
      expect(r.affected).toBe(3);
      expect((await store.getJob(other!.id))?.status).toBe('running');
      expect(await store.getProgress(stepId)).toMatchObject({ cancelled: 3, running: 1, total: 4 });
    });

    it('retries failed jobs: back to pending with attempt + 1, recorded; the step and run reopen and end again', async () => {
      const { manager, steps } = await store.createRun(newRun([{ name: 'a' }, { name: 'b', dependsOn: ['a'] }]));
      await planStep(store, steps[0]!.id, 4);
      const jobs = await claimAll(store);
      await store.acknowledge({
        acks: jobs.map((j, i) =>
          i === 0
            ? { id: j.id, token: j.leaseToken, status: 'failed' as const, error: 'x', retryInMs: null }
            : { id: j.id, token: j.leaseToken, status: 'completed' as const, result: i },
        ),
      });
      expect((await store.getJob(manager.id))?.status).toBe('failed');
      expect((await store.getJob(steps[1]!.id))?.status).toBe('cancelled');

      const r = await store.retry({ id: steps[0]!.id });
      expect(r.affected).toBe(1);
      expect(await store.getJob(jobs[0]!.id)).toMatchObject({ status: 'pending', attempt: 2, maxAttempts: 2, error: null });
      expect(await store.listRetries(jobs[0]!.id)).toEqual([expect.objectContaining({ fromStatus: 'failed', attempt: 2 })]);
      expect((await store.getJob(steps[0]!.id))?.status).toBe('running');
      expect((await store.getJob(steps[1]!.id))?.status).toBe('pending');
      expect((await store.getJob(manager.id))?.status).toBe('running');
      expect((await store.getStats()).runs).toMatchObject({ running: 1, failed: 0 });

      const [again] = await claimAll(store);
      await store.acknowledge({ acks: [{ id: again!.id, token: again!.leaseToken, status: 'completed', result: 'fixed' }] });
      expect((await store.getJob(steps[0]!.id))?.status).toBe('completed');
      await planStep(store, steps[1]!.id, 0);
      expect((await store.getJob(manager.id))?.status).toBe('completed');
      expect((await store.retry({ id: manager.id })).affected).toBe(0);
      await expectCountersExact(steps[0]!.id, manager.id);
    });

    it('a user-cancelled job is not brought back by a retry', async () => {
      const { steps } = await store.createRun(newRun([{ name: 'a' }]));
      await planStep(store, steps[0]!.id, 2);
      const page = await store.listJobs({ stepId: steps[0]!.id, limit: 10 });
      await store.cancel({ id: page.data[0]!.id });
      expect((await store.retry({ id: steps[0]!.id })).affected).toBe(0);
    });

    it('a retry never brings back a run or step the user cancelled, even when some of its jobs had failed', async () => {
      const { manager, steps } = await store.createRun(
        newRun([
          { name: 'a', policy: { maxFailures: { kind: 'count', value: 5 } } },
          { name: 'b', dependsOn: ['a'] },
        ]),
      );
      await planStep(store, steps[0]!.id, 10);
      const { jobs } = await store.claim({ owner: 'w', limit: 2, leaseMs: 30_000 });
      await store.acknowledge({
        acks: jobs.map((j) => ({ id: j.id, token: j.leaseToken, status: 'failed' as const, error: 'x', retryInMs: null })),
      });
      await store.cancel({ id: steps[0]!.id });
      expect((await store.getJob(manager.id))?.status).toBe('cancelled');
      expect((await store.retry({ id: manager.id })).affected).toBe(0);
      expect((await store.retry({ id: steps[0]!.id })).affected).toBe(0);
      expect((await store.retry({ id: jobs[0]!.id })).affected).toBe(0);
      expect((await store.getJob(steps[0]!.id))?.status).toBe('cancelled');
      expect((await store.getJob(steps[1]!.id))?.status).toBe('cancelled');
      expect((await store.getJob(manager.id))?.status).toBe('cancelled');
      expect(await store.getProgress(steps[0]!.id)).toMatchObject({ failed: 2, cancelled: 8, pending: 0 });

      const run2 = await store.createRun(newRun([{ name: 'a', policy: { maxFailures: { kind: 'count', value: 5 } } }]));
      await planStep(store, run2.steps[0]!.id, 3);
      await store.cancel({ id: run2.manager.id });
      expect((await store.retry({ id: run2.manager.id })).affected).toBe(0);
      expect((await store.getJob(run2.manager.id))?.status).toBe('cancelled');
    });

    it('deletes a finished run with everything in it, and refuses while it runs', async () => {
      const { manager, steps } = await store.createRun(newRun([{ name: 'a' }]));
      await planStep(store, steps[0]!.id, 3);
      await expect(store.deleteRun({ managerId: manager.id })).rejects.toMatchObject({ code: 'ERR_RUN_ACTIVE' });
      await store.appendLogs([{ jobId: steps[0]!.id, stepId: steps[0]!.id, managerId: manager.id, level: 'info', message: 'hi', at: 1 }]);
      await store.cancel({ id: manager.id });
      const r = await store.deleteRun({ managerId: manager.id });
      expect(r).toMatchObject({ jobs: 5, logs: 1 });
      expect(await store.getJob(manager.id)).toBeNull();
      expect(await store.getStats()).toMatchObject({ runs: { total: 0 }, jobs: { total: 0 } });
      await expect(store.deleteRun({ managerId: manager.id })).rejects.toMatchObject({ code: 'ERR_JOB_NOT_FOUND' });
      // Ids are never reused, even after the newest run is deleted (they name runs in URLs and reports).
      const again = await store.createRun(newRun([{ name: 'a' }]));
      expect(again.manager.id).toBeGreaterThan(steps[0]!.id);
    });

    it('claims only the jobs of one run when asked (stepq run works on its own run)', async () => {
      const one = await store.createRun(newRun([{ name: 'a' }, { name: 'limited', policy: { concurrency: 2 } }]));
      const two = await store.createRun(newRun([{ name: 'a' }]));
      await planStep(store, one.steps[0]!.id, 5);
      await planStep(store, one.steps[1]!.id, 5);
      await planStep(store, two.steps[0]!.id, 5);
      const { jobs } = await store.claim({ owner: 'w', limit: 100, leaseMs: 1000, managerId: two.manager.id });
      expect(jobs.length).toBe(5);
      expect(jobs.every((j) => j.managerId === two.manager.id)).toBe(true);
      const rest = await store.claim({ owner: 'w', limit: 100, leaseMs: 1000, managerId: one.manager.id });
      expect(rest.jobs.length).toBe(5 + 2);
      expect(rest.jobs.every((j) => j.managerId === one.manager.id)).toBe(true);
    });

    it('limits running jobs of a step to its concurrency', async () => {
      const { steps } = await store.createRun(newRun([{ name: 'a', policy: { concurrency: 3 } }, { name: 'b' }]));
      await planStep(store, steps[0]!.id, 10);
      await planStep(store, steps[1]!.id, 10);
      const jobs = await claimAll(store, 'w', 100);
      const fromA = jobs.filter((j) => j.stepId === steps[0]!.id);
      expect(fromA.length).toBe(3);
      expect(jobs.filter((j) => j.stepId === steps[1]!.id).length).toBe(10);
      await store.acknowledge({ acks: [{ id: fromA[0]!.id, token: fromA[0]!.leaseToken, status: 'completed', result: null }] });
      const more = await claimAll(store, 'w', 100);
      expect(more.length).toBe(1);
    });

    it('lists jobs by keyset pages with filters, stable order and exact cursors', async () => {
      const { manager, steps } = await store.createRun(newRun([{ name: 'a' }]));
      await planStep(store, steps[0]!.id, 25);
      const seen: number[] = [];
      let cursor: string | undefined;
      do {
        const page = await store.listJobs({ stepId: steps[0]!.id, limit: 10, ...(cursor ? { cursor } : {}) });
        seen.push(...page.data.map((j) => j.id));
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      expect(seen.length).toBe(25);
      expect([...seen].sort((a, b) => a - b)).toEqual(seen);
      const jobs = await claimAll(store, 'w', 5);
      const failedIds = jobs.slice(0, 2).map((j) => j.id);
      await store.acknowledge({
        acks: jobs.slice(0, 2).map((j) => ({ id: j.id, token: j.leaseToken, status: 'failed' as const, error: 'x', retryInMs: null })),
      });
      const failed = await store.listJobs({ stepId: steps[0]!.id, status: ['failed'], limit: 100 });
      expect(failed.data.map((j) => j.id)).toEqual(failedIds);
      const runs = await store.listJobs({ parentId: null, limit: 10, order: 'desc' });
      expect(runs.data.map((j) => j.id)).toEqual([manager.id]);
      const named = await store.listJobs({ stepId: steps[0]!.id, q: 'k1', limit: 100 });
      expect(named.data.map((j) => j.name).sort()).toEqual(
        ['k1', 'k10', 'k11', 'k12', 'k13', 'k14', 'k15', 'k16', 'k17', 'k18', 'k19'].sort(),
      );
      const pct = await store.listJobs({ stepId: steps[0]!.id, q: '%', limit: 100 });
      expect(pct.data).toEqual([]);
      await expect(store.listJobs({ stepId: steps[0]!.id, limit: 10, cursor: 'garbage' })).rejects.toBeInstanceOf(StepqError);

      // Summaries: by ids, and from a row number (offset) with a cursor that continues after it.
      const some = await store.listJobSummaries({ stepId: steps[0]!.id, ids: [seen[3]!, seen[7]!, 999_999], limit: 10, headChars: 20 });
      expect(some.data.map((j) => j.id)).toEqual([seen[3], seen[7]]);
      const jumped = await store.listJobSummaries({ stepId: steps[0]!.id, offset: 20, limit: 3, headChars: 20 });
      expect(jumped.data.map((j) => j.id)).toEqual(seen.slice(20, 23));
      const next = await store.listJobSummaries({ stepId: steps[0]!.id, cursor: jumped.nextCursor!, limit: 10, headChars: 20 });
      expect(next.data.map((j) => j.id)).toEqual(seen.slice(23, 25));
      expect(jumped.data[0]!.heads.payload.head).toBe(JSON.stringify({ i: 20 }));
      const snap = await store.getManagerSnapshot(manager.id);
      expect(snap).toMatchObject({ definitionId: 'test-def', createdAt: manager.createdAt });
    });

    it('keeps logs per job, merges them per step and per run in order, filters by level', async () => {
      const { manager, steps } = await store.createRun(newRun([{ name: 'a' }, { name: 'b' }]));
      await planStep(store, steps[0]!.id, 2);
      await planStep(store, steps[1]!.id, 1);
      const a = await store.listJobs({ stepId: steps[0]!.id, limit: 10 });
      const b = await store.listJobs({ stepId: steps[1]!.id, limit: 10 });
      const lines = [
        { jobId: a.data[0]!.id, stepId: steps[0]!.id, managerId: manager.id, level: 'info' as const, message: 'a1', at: 5 },
        { jobId: b.data[0]!.id, stepId: steps[1]!.id, managerId: manager.id, level: 'error' as const, message: 'b1', at: 5 },
        { jobId: a.data[1]!.id, stepId: steps[0]!.id, managerId: manager.id, level: 'warn' as const, message: 'a2', at: 5 },
        { jobId: a.data[0]!.id, stepId: steps[0]!.id, managerId: manager.id, level: 'debug' as const, message: 'a3', at: 5 },
      ];
      await store.appendLogs(lines);
      const step = await store.listLogs({ jobId: steps[0]!.id, limit: 10 });
      expect(step.data.map((l) => l.message)).toEqual(['a1', 'a2', 'a3']);
      const run = await store.listLogs({ jobId: manager.id, limit: 10, level: 'warn' });
      expect(run.data.map((l) => l.message)).toEqual(['b1', 'a2']);
      const job = await store.listLogs({ jobId: a.data[0]!.id, limit: 1 });
      expect(job.data.map((l) => l.message)).toEqual(['a1']);
      const next = await store.listLogs({ jobId: a.data[0]!.id, limit: 1, cursor: job.nextCursor! });
      expect(next.data.map((l) => l.message)).toEqual(['a3']);
      const newest = await store.listLogs({ jobId: manager.id, limit: 2, order: 'desc' });
      expect(newest.data.map((l) => l.message)).toEqual(['a3', 'a2']);
    });

    it('stores definitions and lets one process win each schedule slot', async () => {
      await store.saveDefinition({ id: 'd1', name: 'One', source: 'id = "d1"', format: 'toml', file: null });
      await store.saveDefinition({ id: 'd1', name: 'One again', source: 'id = "d1"\n', format: 'toml', file: 'x.toml' });
      expect((await store.listDefinitions()).map((d) => [d.id, d.name, d.file])).toEqual([['d1', 'One again', 'x.toml']]);
      expect(await store.advanceSchedule({ definitionId: 'd1', expected: null, next: 100 })).toBe(true);
      expect(await store.advanceSchedule({ definitionId: 'd1', expected: null, next: 200 })).toBe(false);
      expect(await store.getSchedule('d1')).toBe(100);
      expect(await store.advanceSchedule({ definitionId: 'd1', expected: 100, next: 160 })).toBe(true);
      expect(await store.advanceSchedule({ definitionId: 'd1', expected: 100, next: 160 })).toBe(false);
      expect(await store.deleteDefinition('d1')).toBe(true);
      expect(await store.getDefinition('d1')).toBeNull();
      expect(await store.deleteDefinition('d1')).toBe(false);
    });

    it('fails a run past its timeout and cancels what is left', async () => {
      const { manager, steps } = await store.createRun(newRun([{ name: 'a' }], { timeoutMs: 10_000 }));
      await planStep(store, steps[0]!.id, 5);
      clock.advance(10_001);
      await store.sweep();
      const m = await store.getJob(manager.id);
      expect(m?.status).toBe('failed');
      expect(m?.error).toContain('timeout');
      expect(await store.getProgress(manager.id)).toMatchObject({ cancelled: 5, pending: 0 });
    });

    it('refuses an oversized payload whole', async () => {
      const { steps } = await store.createRun(newRun([{ name: 'a' }]));
      const { jobs } = await store.claim({ owner: 'w', limit: 1, leaseMs: 1000 });
      const big = 'x'.repeat(17 * 1024 * 1024);
      await expect(
        store.enqueueMany({ stepId: steps[0]!.id, parentId: steps[0]!.id, token: jobs[0]!.leaseToken, jobs: [{}, { payload: big }] }),
      ).rejects.toMatchObject({ code: 'ERR_PAYLOAD_TOO_LARGE' });
      expect((await store.getProgress(steps[0]!.id))?.total).toBe(0);
    });

    it('releases jobs on shutdown without spending an attempt', async () => {
      const { steps } = await store.createRun(newRun([{ name: 'a' }]));
      await planStep(store, steps[0]!.id, 2);
      const jobs = await claimAll(store, 'w');
      const r = await store.release({ owner: 'w', ids: jobs.map((j) => j.id) });
      expect(r.affected).toBe(2);
      const again = await claimAll(store, 'w2');
      expect(again.map((j) => j.attempt)).toEqual([1, 1]);
    });
  });
}
