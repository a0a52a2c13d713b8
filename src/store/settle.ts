/**
 * How steps and runs end, applied inside the transaction that made it so (DESIGN rule 5: a step ends
 * when its last descendant ends). Decisions come from core/lifecycle.ts; this file only executes them.
 */
import type { CancelCause } from '../core/job.js';
import { planRun, stepVerdict, type StepState } from '../core/lifecycle.js';
import { emptyCounts } from '../core/progress.js';
import type { Ledger } from './ledger.js';
import { stepPayloadOf as stepPayload } from './store.js';

/** Re-evaluates steps whose worker counters moved; ends those that are done, then their runs. */
export async function settleSteps(l: Ledger, stepIds: Iterable<number>): Promise<void> {
  const runs = new Set<number>();
  for (const id of new Set(stepIds)) {
    const step = await l.tx.getJob(id, { lock: true });
    if (!step || step.kind !== 'step' || step.status !== 'running') continue;
    const policy = stepPayload(step).policy;
    const counts = (await l.tx.getCounters([id], 'w')).get(id) ?? emptyCounts();
    const verdict = stepVerdict({ counts, planned: step.planned !== null, policy });
    if (verdict.status === 'running') continue;
    if (verdict.status === 'failed' && verdict.cancelRemaining) {
      await l.workersChanged(
        await l.tx.cancelWorkers({
          scope: { stepId: id },
          cause: 'failure',
          error: `Cancelled: step "${step.name}" crossed its failure threshold`,
        }),
      );
    }
    await l.stepsChanged(
      await l.tx.setStatus({
        ids: [id],
        from: ['running'],
        to: verdict.status,
        error: verdict.status === 'failed' ? verdict.error : null,
        finish: true,
        clearLease: true,
      }),
    );
    runs.add(step.managerId);
  }
  for (const managerId of runs) await settleRun(l, managerId);
}

/** Cancels what is still pending or running in a run: its worker jobs and its steps. */
export async function cancelRunRemainder(
  l: Ledger,
  managerId: number,
  cause: CancelCause,
  error: string,
): Promise<number> {
  const workers = await l.tx.cancelWorkers({ scope: { managerId }, cause, error });
  await l.workersChanged(workers);
  const steps = await l.tx.stepsOfRun(managerId);
  const open = steps.filter((s) => s.status === 'pending' || s.status === 'running').map((s) => s.id);
  const changed = await l.tx.setStatus({
    ids: open,
    from: ['pending', 'running'],
    to: 'cancelled',
    cancelCause: cause,
    error,
    finish: true,
    clearLease: true,
  });
  await l.stepsChanged(changed);
  return workers.length + changed.length;
}

/** Releases steps whose dependencies ended, cancels those that can never start, ends the run. */
export async function settleRun(l: Ledger, managerId: number): Promise<void> {
  const manager = await l.tx.getJob(managerId, { lock: true });
  if (!manager || manager.kind !== 'manager' || manager.status !== 'running') return;
  const steps = await l.tx.stepsOfRun(managerId);
  const idByName = new Map(steps.map((s) => [s.name, s.id]));
  const states: StepState[] = steps.map((s) => {
    const p = stepPayload(s);
    return {
      id: s.id,
      name: s.name,
      status: s.status,
      dependsOn: p.dependsOn.map((n) => idByName.get(n)).filter((x): x is number => x !== undefined),
      onError: p.policy.onError,
      released: s.status !== 'pending' || s.runAt !== null,
      error: s.error,
    };
  });
  const plan = planRun(states);
  if (plan.failedBy) {
    await cancelRunRemainder(l, managerId, 'failure', `Cancelled: step "${plan.failedBy.name}" failed`);
    await l.managersChanged(
      await l.tx.setStatus({
        ids: [managerId],
        from: ['running'],
        to: 'failed',
        error: `Step "${plan.failedBy.name}" failed: ${plan.failedBy.error ?? 'see its jobs'}`,
        finish: true,
      }),
    );
    return;
  }
  if (plan.release.length > 0) await l.tx.releaseSteps(plan.release);
  if (plan.cancel.length > 0) {
    await l.stepsChanged(
      await l.tx.setStatus({
        ids: plan.cancel.map((c) => c.id),
        from: ['pending'],
        to: 'cancelled',
        cancelCause: 'dependency',
        error: 'Cancelled: a step it depends on did not complete',
        finish: true,
      }),
    );
  }
  if (plan.final) {
    await l.managersChanged(
      await l.tx.setStatus({ ids: [managerId], from: ['running'], to: plan.final, error: null, finish: true }),
    );
  }
}
