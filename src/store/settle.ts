/**
 * How steps and runs end (DESIGN rule 5: a step ends when its last descendant ends), applied inside
 * the transaction that made it so, or, with concurrent writers, in one right after it (see
 * settleSteps). Decisions come from core/lifecycle.ts; this file only executes them.
 */
import type { CancelCause } from '../core/job.js';
import { planRun, stepVerdict, type StepState } from '../core/lifecycle.js';
import { emptyCounts } from '../core/progress.js';
import type { Ledger } from './ledger.js';
import type { WorkerScope } from './tx.js';
import { stepPayloadOf as stepPayload } from './store.js';

/**
 * Re-evaluates steps whose worker counters moved; ends those that are done, then their runs.
 *
 * The judgement is made under the step's row lock, with the counters read after taking it, so two
 * transactions never both end a step, and an ending is never decided on counters older than the
 * last ending judged.
 *
 * Concurrent writers (PostgreSQL, READ COMMITTED; SQLite runs one transaction at a time and needs
 * none of this). Two workers acknowledge the last two jobs of a step in concurrent transactions A
 * and B. Inside its transaction each sees its own change plus what was committed, so each sees the
 * other's job still running, and neither would end the step. Locking the step inside both would make
 * the second wait for the first's commit and then see it, but it would also make every
 * acknowledgement of a step queue on one row for the rest of its transaction (its commit included):
 * measured, that row capped three worker processes below one. So a dialect with concurrent writers
 * defers the judgement (StoreTx.deferSettle): the store reads each touched step's counters *after*
 * its commit, and settles here, in a transaction of its own, the steps that read says may have
 * ended. The argument is then short: of A and B, the one that commits second reads after both
 * commits, sees the step done, and settles it; if both do, the step lock and the guarded status
 * change end it once. Nothing depends on how many jobs are in flight. A crash between the commit
 * and the settling leaves the step running until the sweep (`store.sweep()`, run by every lease
 * rescuer) judges it.
 *
 * Lock order, the same everywhere: steps (in id order), then job rows (in id order), then the run.
 * No transaction holds job rows while it waits for a step: acknowledgements, rescues and releases
 * take no step lock when settling is deferred, and cancellations and retries lock their steps first.
 * So a step crossing its failure threshold can cancel its remaining jobs here, under its lock. The
 * store runs a transaction again when PostgreSQL aborts it as a deadlock victim (two steps of one
 * run ending together while one of them fails the run can still meet one).
 */
export async function settleSteps(l: Ledger, stepIds: Iterable<number>): Promise<void> {
  const ids = [...new Set(stepIds)].filter((id) => id > 0).sort((a, b) => a - b);
  if (ids.length === 0) return;
  if (l.tx.deferSettle) {
    l.tx.deferSettle(ids);
    return;
  }
  const runs = new Set<number>();
  for (const id of ids) {
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
  for (const managerId of [...runs].sort((a, b) => a - b)) await settleRun(l, managerId);
}

/**
 * Cancels what is still pending or running in a run: its steps are locked first (the lock order:
 * steps, job rows, run), then its worker jobs and its open steps are cancelled.
 */
export async function cancelRunRemainder(l: Ledger, managerId: number, cause: CancelCause, error: string): Promise<number> {
  const steps = await l.tx.stepsOfRun(managerId, { lock: true });
  const open = steps.filter((s) => s.status === 'pending' || s.status === 'running').map((s) => s.id);
  return cancelWorkersAndSteps(l, { managerId }, open, cause, error);
}

/** Cancels the open worker jobs in `scope`, then the open steps among `stepIds`; returns the rows changed. */
export async function cancelWorkersAndSteps(
  l: Ledger,
  scope: WorkerScope,
  stepIds: number[],
  cause: CancelCause,
  error: string,
): Promise<number> {
  const workers = await l.tx.cancelWorkers({ scope, cause, error });
  await l.workersChanged(workers);
  const changed = await l.tx.setStatus({
    ids: stepIds,
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
      // on_error = "continue" tolerates failed worker jobs; a step that could not even plan its work
      // (a missing folder, a bad URL) did nothing, and fails the run whatever its on_error.
      onError: s.status === 'failed' && s.planned === null ? 'fail' : p.policy.onError,
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
    await l.managersChanged(await l.tx.setStatus({ ids: [managerId], from: ['running'], to: plan.final, error: null, finish: true }));
  }
}
