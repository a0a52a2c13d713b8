/**
 * The store contract under concurrency: what several workers (and several processes: a second store
 * instance on the same data) may do at the same time. SQLite passes by running transactions one at a
 * time; PostgreSQL by SKIP LOCKED claims, guarded updates, sharded counters and the step lock rules
 * of settle.ts. Every store must pass this suite unchanged.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StepqError } from '../../src/core/errors.js';
import type { Acknowledgement, ClaimedJob, Effects, Store } from '../../src/store/store.js';
import { storeFactories, suiteName, type StoreUnderTest } from '../helpers/stores.js';
import { claimAll, newRun, planStep } from './fixtures.js';

for (const factory of storeFactories) {
  describe.skipIf(!!factory.skipReason)(suiteName('store contract, concurrent', factory), () => {
    let sut: StoreUnderTest;
    let stores: Store[];

    beforeEach(async () => {
      sut = await factory.make({});
      // A store shared between processes is also exercised from a second instance (own connections);
      // a single-process store (SQLite) is used from one instance, as in production.
      stores = sut.store.capabilities.multiProcess ? [sut.store, await sut.openSecond()] : [sut.store];
    });
    afterEach(async () => {
      if (stores[1]) await stores[1].close();
      await sut.close();
    });

    /** The store of claimer `i`: claimers alternate between the two "processes". */
    const storeOf = (i: number): Store => stores[i % stores.length]!;

    async function expectCountersExact(stepId: number, managerId: number, onlyRun = true): Promise<void> {
      expect(await sut.store.getProgress(stepId)).toEqual(await sut.countWorkers({ stepId }));
      expect(await sut.store.getProgress(managerId)).toEqual(await sut.countWorkers({ managerId }));
      // With one run in the store, the global worker counters count the same rows.
      if (onlyRun) expect((await sut.store.getStats()).jobs).toEqual(await sut.countWorkers({ managerId }));
    }

    function statusChanges(effects: Effects[], id: number, status: string): number {
      return effects.flatMap((e) => e.jobs).filter((j) => j.id === id && j.status === status).length;
    }

    it('8 concurrent claimers over 2,000 jobs never hand out one job twice', async () => {
      const { manager, steps } = await sut.store.createRun(newRun([{ name: 'a' }]));
      await planStep(sut.store, steps[0]!.id, 2000);
      const claimed = await Promise.all(
        Array.from({ length: 8 }, async (_, i) => {
          const mine: ClaimedJob[] = [];
          for (;;) {
            const { jobs } = await storeOf(i).claim({ owner: `w${i}`, limit: 37, leaseMs: 60_000 });
            if (jobs.length === 0) return mine;
            mine.push(...jobs);
          }
        }),
      );
      const ids = claimed.flat().map((j) => j.id);
      expect(ids.length).toBe(2000);
      expect(new Set(ids).size).toBe(2000);
      expect(claimed.filter((c) => c.length > 0).length).toBeGreaterThan(1);
      expect(await sut.store.getProgress(steps[0]!.id)).toMatchObject({ running: 2000, pending: 0 });
      await expectCountersExact(steps[0]!.id, manager.id);
    });

    it('concurrent acknowledgers of the last jobs of a step end it exactly once (20 rounds)', async () => {
      for (let round = 0; round < 20; round++) {
        const { manager, steps } = await sut.store.createRun(newRun([{ name: 'a' }, { name: 'b', dependsOn: ['a'] }]));
        const stepId = steps[0]!.id;
        await planStep(sut.store, stepId, 16);
        const jobs = await claimAll(sut.store, 'w', 100, 60_000);
        expect(jobs.length).toBe(16);
        // Eight workers, two jobs each, all answering at once.
        const results = await Promise.all(
          Array.from({ length: 8 }, (_, i) =>
            storeOf(i).acknowledge({
              acks: jobs
                .slice(i * 2, i * 2 + 2)
                .map((j): Acknowledgement => ({ id: j.id, token: j.leaseToken, status: 'completed', result: i })),
            }),
          ),
        );
        expect(results.flatMap((r) => r.lost)).toEqual([]);
        const effects = results.map((r) => r.effects);
        expect((await sut.store.getJob(stepId))?.status).toBe('completed');
        expect(statusChanges(effects, stepId, 'completed')).toBe(1);
        // The dependent step was released once, by whoever ended the first one.
        expect((await sut.store.getJob(steps[1]!.id))?.runAt).not.toBeNull();
        await planStep(sut.store, steps[1]!.id, 0);
        expect((await sut.store.getJob(manager.id))?.status).toBe('completed');
        await expectCountersExact(stepId, manager.id, round === 0);
      }
    });

    it('concurrent failures crossing max_failures fail the step once and cancel the rest', async () => {
      for (let round = 0; round < 10; round++) {
        const { manager, steps } = await sut.store.createRun(newRun([{ name: 'a', policy: { maxFailures: { kind: 'count', value: 1 } } }]));
        const stepId = steps[0]!.id;
        await planStep(sut.store, stepId, 40);
        const jobs = (await claimAll(sut.store, 'w', 100, 60_000)).slice(0, 8);
        // Eight workers each fail one job at once: every transaction alone sees at most one failure
        // besides the committed ones, yet together they cross the threshold.
        const results = await Promise.all(
          jobs.map((j, i) =>
            storeOf(i).acknowledge({ acks: [{ id: j.id, token: j.leaseToken, status: 'failed', error: `e${i}`, retryInMs: null }] }),
          ),
        );
        const effects = results.map((r) => r.effects);
        const step = await sut.store.getJob(stepId);
        expect(step?.status).toBe('failed');
        expect(statusChanges(effects, stepId, 'failed')).toBe(1);
        const counts = await sut.store.getProgress(stepId);
        expect(counts).toMatchObject({ pending: 0, running: 0 });
        expect(counts!.failed + counts!.cancelled).toBe(40);
        expect((await sut.store.getJob(manager.id))?.status).toBe('failed');
        await expectCountersExact(stepId, manager.id, round === 0);
      }
    });

    it('counters stay exact under concurrent claims, completions, retries with backoff and spawns', async () => {
      const { manager, steps } = await sut.store.createRun(
        newRun([{ name: 'a', policy: { maxAttempts: 3, maxFailures: { kind: 'percent', value: 100 } } }]),
      );
      const stepId = steps[0]!.id;
      await planStep(sut.store, stepId, 1000);
      let spawned = 0;
      await Promise.all(
        Array.from({ length: 8 }, async (_, i) => {
          const store = storeOf(i);
          for (;;) {
            const { jobs } = await store.claim({ owner: `w${i}`, limit: 25, leaseMs: 60_000 });
            if (jobs.length === 0) return;
            for (const j of jobs.filter((x) => x.depth === 2 && x.id % 10 === 0)) {
              const r = await store.enqueueMany({
                stepId,
                parentId: j.id,
                token: j.leaseToken,
                jobs: [{ key: `c${j.id}` }, { key: `d${j.id}` }],
              });
              spawned += r.inserted;
            }
            await store.acknowledge({
              acks: jobs.map((j): Acknowledgement =>
                j.id % 7 === 0 && j.attempt === 1
                  ? { id: j.id, token: j.leaseToken, status: 'failed', error: 'again', retryInMs: 0 }
                  : j.id % 11 === 0
                    ? { id: j.id, token: j.leaseToken, status: 'failed', error: 'no', retryInMs: null }
                    : { id: j.id, token: j.leaseToken, status: 'completed', result: null },
              ),
            });
          }
        }),
      );
      expect(spawned).toBe(200);
      const counts = await sut.store.getProgress(stepId);
      expect(counts).toMatchObject({ total: 1200, pending: 0, running: 0 });
      expect((await sut.store.getJob(stepId))?.status).toBe('completed');
      await expectCountersExact(stepId, manager.id);
    });

    it('a step limited to 3 running jobs never runs more, whoever claims', async () => {
      const { manager, steps } = await sut.store.createRun(newRun([{ name: 'a', policy: { concurrency: 3 } }]));
      const stepId = steps[0]!.id;
      await planStep(sut.store, stepId, 30);
      let done = 0;
      while (done < 30) {
        const claimed = (
          await Promise.all(Array.from({ length: 8 }, (_, i) => storeOf(i).claim({ owner: `w${i}`, limit: 5, leaseMs: 60_000 })))
        ).flatMap((r) => r.jobs);
        expect(claimed.length).toBeLessThanOrEqual(3);
        expect((await sut.store.getProgress(stepId))!.running).toBeLessThanOrEqual(3);
        expect(claimed.length).toBeGreaterThan(0);
        await sut.store.acknowledge({
          acks: claimed.map((j) => ({ id: j.id, token: j.leaseToken, status: 'completed' as const, result: null })),
        });
        done += claimed.length;
      }
      expect((await sut.store.getJob(manager.id))?.status).toBe('completed');
    });

    it('cancelling a step while its jobs spawn leaves nothing pending or running in it', async () => {
      const { manager, steps } = await sut.store.createRun(newRun([{ name: 'a' }]));
      const stepId = steps[0]!.id;
      await planStep(sut.store, stepId, 40);
      const jobs = await claimAll(sut.store, 'w', 100, 60_000);
      const spawns = jobs.map((j, i) =>
        storeOf(i)
          .enqueueMany({
            stepId,
            parentId: j.id,
            token: j.leaseToken,
            jobs: Array.from({ length: 5 }, (_, k) => ({ key: `${j.id}.${k}` })),
          })
          .then(
            (r) => r.inserted,
            (err: unknown) => {
              // Lost the race: the parent or the step was cancelled first. Nothing was inserted.
              if (err instanceof StepqError && (err.code === 'ERR_LEASE_LOST' || err.code === 'ERR_JOB_NOT_IN_STATUS')) return 0;
              throw err;
            },
          ),
      );
      const cancel = storeOf(1).cancel({ id: stepId });
      const inserted = (await Promise.all(spawns)).reduce((a, b) => a + b, 0);
      await cancel;
      const counts = await sut.store.getProgress(stepId);
      expect(counts).toMatchObject({ pending: 0, running: 0, total: 40 + inserted, cancelled: 40 + inserted });
      expect(await claimAll(sut.store, 'late')).toEqual([]);
      expect((await sut.store.getJob(manager.id))?.status).toBe('cancelled');
      await expectCountersExact(stepId, manager.id);
    });

    it('cancelling a run while a step plans and others spawn leaves nothing pending or running', async () => {
      for (let round = 0; round < 5; round++) {
        const { manager, steps } = await sut.store.createRun(newRun([{ name: 'a' }, { name: 'b' }]));
        await planStep(sut.store, steps[0]!.id, 20);
        const claimed = await claimAll(sut.store, 'w', 100, 60_000);
        const planner = claimed.find((j) => j.id === steps[1]!.id)!;
        const spawners = claimed.filter((j) => j.kind === 'worker');
        expect(planner).toBeDefined();
        expect(spawners.length).toBe(20);
        const tolerate = (err: unknown): number => {
          if (err instanceof StepqError && (err.code === 'ERR_LEASE_LOST' || err.code === 'ERR_JOB_NOT_IN_STATUS')) return 0;
          throw err;
        };
        const plan = (async () => {
          let n = 0;
          for (let i = 0; i < 10; i++) {
            const r = await storeOf(i).enqueueMany({
              stepId: planner.id,
              parentId: planner.id,
              token: planner.leaseToken,
              jobs: Array.from({ length: 50 }, (_, k) => ({ key: `p${i}.${k}` })),
            });
            n += r.inserted;
          }
          return n;
        })().catch(tolerate);
        const spawns = spawners.map((j, i) =>
          storeOf(i)
            .enqueueMany({ stepId: steps[0]!.id, parentId: j.id, token: j.leaseToken, jobs: [{ key: `s${j.id}` }] })
            .then((r) => r.inserted, tolerate),
        );
        const cancel = storeOf(1).cancel({ id: manager.id });
        await Promise.all([plan, ...spawns, cancel]);
        expect((await sut.store.getJob(manager.id))?.status).toBe('cancelled');
        expect(await sut.store.getProgress(manager.id)).toMatchObject({ pending: 0, running: 0 });
        expect(await claimAll(sut.store, 'late')).toEqual([]);
        await expectCountersExact(steps[1]!.id, manager.id, false);
      }
    });

    it('stores NUL characters of names, errors and log lines without failing the batch', async () => {
      const { manager, steps } = await sut.store.createRun(newRun([{ name: 'a' }]));
      const stepId = steps[0]!.id;
      const { jobs } = await sut.store.claim({ owner: 'p', limit: 1, leaseMs: 60_000 });
      await sut.store.enqueueMany({
        stepId,
        parentId: stepId,
        token: jobs[0]!.leaseToken,
        jobs: [{ name: 'x\u0000y', key: 'k\u0000', payload: { s: 'p\u0000q' } }],
      });
      await sut.store.markPlanned({ stepId, token: jobs[0]!.leaseToken, planned: 1 });
      const [job] = await claimAll(sut.store);
      expect(job!.name.startsWith('x')).toBe(true);
      expect(job!.payload).toEqual({ s: 'p\u0000q' });
      const r = await sut.store.acknowledge({
        acks: [{ id: job!.id, token: job!.leaseToken, status: 'failed', error: 'bad\u0000byte', retryInMs: null }],
      });
      expect(r.lost).toEqual([]);
      expect((await sut.store.getJob(job!.id))?.error?.startsWith('bad')).toBe(true);
      const [line] = await sut.store.appendLogs([
        { jobId: job!.id, stepId, managerId: manager.id, level: 'info', message: 'a\u0000b', at: 1 },
      ]);
      expect(line!.id).toBeGreaterThan(0);
      expect((await sut.store.listLogs({ jobId: job!.id, limit: 5 })).data).toHaveLength(1);
    });
  });
}
