/**
 * Invariants under random operation sequences (fast-check), on every store:
 * - progress counters equal the rows counted by status, for every step and the run;
 * - a terminal job never changes status, except worker jobs through a recorded retry (and the steps
 *   and run that such a retry reopens).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { isTerminal, type JobStatus } from '../../src/core/job.js';
import type { ClaimedJob } from '../../src/store/store.js';
import { storeFactories, suiteName } from '../helpers/stores.js';
import { newRun, planStep } from './fixtures.js';

type Op =
  | { kind: 'claim'; n: number; owner: number }
  | { kind: 'complete'; pick: number }
  | { kind: 'fail'; pick: number; retry: boolean }
  | { kind: 'spawn'; pick: number; n: number }
  | { kind: 'expire' }
  | { kind: 'heartbeat'; owner: number }
  | { kind: 'cancelJob'; pick: number }
  | { kind: 'cancelStep'; step: number }
  | { kind: 'retryStep'; step: number }
  | { kind: 'retryRun' }
  | { kind: 'lateAck'; pick: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({ kind: fc.constant('claim' as const), n: fc.integer({ min: 1, max: 8 }), owner: fc.integer({ min: 0, max: 1 }) }),
  },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('complete' as const), pick: fc.nat() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('fail' as const), pick: fc.nat(), retry: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('spawn' as const), pick: fc.nat(), n: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'expire' as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('heartbeat' as const), owner: fc.integer({ min: 0, max: 1 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('cancelJob' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('cancelStep' as const), step: fc.integer({ min: 0, max: 1 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('retryStep' as const), step: fc.integer({ min: 0, max: 1 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'retryRun' as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('lateAck' as const), pick: fc.nat() }) },
);

for (const factory of storeFactories) {
  describe.skipIf(!!factory.skipReason)(suiteName('store invariants', factory), () => {
    it('counters equal counted rows and terminal statuses hold, after any operation sequence', async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 40 }), async (ops) => {
          const clock = new ManualClock();
          const sut = await factory.make({ clock });
          const store = sut.store;
          try {
            const { manager, steps } = await store.createRun(
              newRun([
                { name: 'a', policy: { maxAttempts: 2, maxFailures: { kind: 'count', value: 2 } } },
                { name: 'b', policy: { maxAttempts: 1, onError: 'continue' } },
              ]),
            );
            const stepIds = steps.map((s) => s.id);
            await planStep(store, stepIds[0]!, 6);
            await planStep(store, stepIds[1]!, 4);
            const held: ClaimedJob[] = [];
            const stale: ClaimedJob[] = [];
            const owners = ['w0', 'w1'];

            for (const op of ops) {
              const before = await sut.statuses();
              const retriesBefore = new Map<number, number>();
              for (const [id, st] of before) {
                if (isTerminal(st)) retriesBefore.set(id, (await store.listRetries(id)).length);
              }
              const take = (pick: number): ClaimedJob | undefined => {
                if (held.length === 0) return undefined;
                const [job] = held.splice(pick % held.length, 1);
                return job;
              };
              switch (op.kind) {
                case 'claim': {
                  const { jobs } = await store.claim({ owner: owners[op.owner]!, limit: op.n, leaseMs: 1000 });
                  held.push(...jobs.filter((j) => j.kind === 'worker'));
                  break;
                }
                case 'complete': {
                  const j = take(op.pick);
                  if (j) {
                    await store.acknowledge({ acks: [{ id: j.id, token: j.leaseToken, status: 'completed', result: { ok: 1 } }] });
                    stale.push(j);
                  }
                  break;
                }
                case 'fail': {
                  const j = take(op.pick);
                  if (j) {
                    const retryInMs = op.retry && j.attempt < j.maxAttempts ? 0 : null;
                    await store.acknowledge({ acks: [{ id: j.id, token: j.leaseToken, status: 'failed', error: 'e', retryInMs }] });
                    stale.push(j);
                  }
                  break;
                }
                case 'spawn': {
                  const j = held.length ? held[op.pick % held.length] : undefined;
                  if (j) {
                    await store
                      .enqueueMany({
                        stepId: j.stepId,
                        parentId: j.id,
                        token: j.leaseToken,
                        jobs: Array.from({ length: op.n }, () => ({})),
                      })
                      .catch((err: { code?: string }) => {
                        if (err.code !== 'ERR_LEASE_LOST' && err.code !== 'ERR_JOB_NOT_IN_STATUS') throw err;
                      });
                  }
                  break;
                }
                case 'expire':
                  clock.advance(1001);
                  await store.rescueExpiredLeases({ limit: 100 });
                  stale.push(...held.splice(0));
                  break;
                case 'heartbeat':
                  await store.heartbeat({ owner: owners[op.owner]!, leaseMs: 1000, ids: held.map((j) => j.id) });
                  break;
                case 'cancelJob': {
                  const all = [...before.keys()].filter((id) => !stepIds.includes(id) && id !== manager.id);
                  if (all.length) await store.cancel({ id: all[op.pick % all.length]! });
                  break;
                }
                case 'cancelStep':
                  await store.cancel({ id: stepIds[op.step]! });
                  break;
                case 'retryStep':
                  await store.retry({ id: stepIds[op.step]! });
                  break;
                case 'retryRun':
                  await store.retry({ id: manager.id });
                  break;
                case 'lateAck': {
                  const j = stale.length ? stale[op.pick % stale.length] : undefined;
                  if (j) await store.acknowledge({ acks: [{ id: j.id, token: j.leaseToken, status: 'completed', result: 'late' }] });
                  break;
                }
              }

              for (const stepId of stepIds) {
                expect(await store.getProgress(stepId)).toEqual(await sut.countWorkers({ stepId }));
              }
              expect(await store.getProgress(manager.id)).toEqual(await sut.countWorkers({ managerId: manager.id }));
              // One run in the store: the global worker counters count the same rows.
              expect((await store.getStats()).jobs).toEqual(await sut.countWorkers({ managerId: manager.id }));
              const after = await sut.statuses();
              const isRetry = op.kind === 'retryStep' || op.kind === 'retryRun';
              for (const [id, st] of before) {
                const now = after.get(id) as JobStatus;
                if (!isTerminal(st) || now === st) continue;
                // Only a retry may move a terminal job, and a worker moved so has a recorded retry.
                expect(isRetry, `job ${id} left terminal ${st} for ${now} during ${op.kind}`).toBe(true);
                if (!stepIds.includes(id) && id !== manager.id) {
                  expect((await store.listRetries(id)).length).toBe((retriesBefore.get(id) ?? 0) + 1);
                }
              }
            }
          } finally {
            await sut.close();
          }
        }),
        { numRuns: 60 },
      );
    });
  });
}
