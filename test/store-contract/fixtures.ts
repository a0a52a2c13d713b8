import { expect } from 'vitest';
import { DEFAULT_POLICY, type StepPolicy } from '../../src/core/lifecycle.js';
import type { ClaimedJob, NewRun, Store } from '../../src/store/store.js';

export function policy(p: Partial<StepPolicy> = {}): StepPolicy {
  return { ...DEFAULT_POLICY, maxAttempts: 1, backoff: { type: 'none', baseMs: 0, maxMs: 0 }, ...p };
}

export function newRun(
  steps: Array<{ name: string; dependsOn?: string[]; policy?: Partial<StepPolicy> }>,
  extra: Partial<NewRun> = {},
): NewRun {
  return {
    definitionId: 'test-def',
    name: 'Test run',
    params: {},
    definition: {},
    timeoutMs: null,
    steps: steps.map((s) => ({
      name: s.name,
      type: 'synthetic',
      dependsOn: s.dependsOn ?? [],
      policy: policy(s.policy),
      config: {},
    })),
    ...extra,
  };
}

/** Claims everything claimable for `owner` (several rounds). */
export async function claimAll(store: Store, owner = 'w1', limit = 1000, leaseMs = 30_000): Promise<ClaimedJob[]> {
  const out: ClaimedJob[] = [];
  for (;;) {
    const { jobs } = await store.claim({ owner, limit, leaseMs });
    out.push(...jobs);
    if (jobs.length < limit) return out;
  }
}

/** Claims the named pending step for planning, adds `count` workers, and marks it planned. */
export async function planStep(store: Store, stepId: number, count: number, owner = 'planner'): Promise<void> {
  const { jobs } = await store.claim({ owner, limit: 100, leaseMs: 30_000, types: ['synthetic'] });
  const step = jobs.find((j) => j.id === stepId);
  expect(step, `step ${stepId} should be claimable`).toBeDefined();
  // Give back anything else claimed on the way.
  const others = jobs.filter((j) => j.id !== stepId).map((j) => j.id);
  if (others.length) await store.release({ owner, ids: others });
  for (let i = 0; i < count; i += 500) {
    const n = Math.min(500, count - i);
    await store.enqueueMany({
      stepId,
      parentId: stepId,
      token: step!.leaseToken,
      jobs: Array.from({ length: n }, (_, k) => ({ key: `k${i + k}`, payload: { i: i + k } })),
      seq: i,
    });
  }
  await store.markPlanned({ stepId, token: step!.leaseToken, planned: count });
}
