/**
 * How steps and runs end, applied inside the transaction that made it so (DESIGN rule 5: a step ends
 * when its last descendant ends). Decisions come from core/lifecycle.ts; this file only executes them.
 */
import type { CancelCause } from '../core/job.js';
import { planRun, stepVerdict, type StepState } from '../core/lifecycle.js';
import { activeCount, emptyCounts, type Counts } from '../core/progress.js';
import type { Ledger } from './ledger.js';
import { stepPayloadOf as stepPayload } from './store.js';

/**
 * Active worker jobs (pending + running) above which a step is "clearly not near its end": more than
 * all the transactions in flight at one time could end (each ends at most a claim or acknowledgement
 * batch, hundreds of jobs; even a hundred processes with several batches each stay far below).
 */
export const NEAR_END = 100_000;

/**
 * Re-evaluates steps whose worker counters moved; ends those that are done, then their runs.
 *
 * Why the lock, and why it is safe to skip it (PostgreSQL, READ COMMITTED; SQLite runs transactions
 * one at a time and needs none of this). Two workers acknowledge the last two jobs of a step in
 * concurrent transactions A and B. Each reads the counters and sees its own change plus what was
 * committed, so each sees the other's job still running, and neither would end the step. Hence the
 * judgement is made under the step's row lock, with the counters read *after* taking it: whichever of
 * A and B takes the lock second waits until the first has committed (row locks are released at
 * commit, after the commit became visible), and its counter read (a new statement, a new snapshot)
 * sees the first one's changes. Some transaction is always second, so one of them ends the step.
 *
 * Taking the step's lock in every transaction would serialise all workers of a step, so it is
 * skipped when the step is clearly far from its end: the counters read without the lock show more
 * than NEAR_END active jobs. The skip is safe because the transaction that really ends the step is
 * the last to commit a change to its counters; what it read differs from the final state only by the
 * changes of transactions that committed after its read, which end at most as many jobs as are in
 * flight at once, far fewer than NEAR_END, so it reads an active count at most that large and takes
 * the lock. A failure threshold is crossed only by a transaction that fails jobs, so the skip also
 * requires that this transaction failed none of the step's jobs or that the step stays NEAR_END
 * failures away from its threshold.
 *
 * What the bound does not cover (a transaction stalled between its read and its commit while more
 * than NEAR_END other jobs end, or one set-based change of more than NEAR_END jobs racing the last
 * acknowledgement) leaves a finished step running until the sweep (`store.sweep()`, run by every
 * lease rescuer) ends it.
 *
 * Lock order, the same in every transaction: job rows (in id order), then steps (in id order), then
 * the run. A step that crossed its failure threshold must cancel its remaining jobs, that is lock
 * rows that other acknowledgers hold while they wait for this step's lock; where the dialect allows
 * (StoreTx.deferCascade) that ending is carried out right after the commit, in a transaction that
 * takes the locks in order. The store retries a transaction PostgreSQL aborts as a deadlock victim
 * (a user's retry or cancel racing a run's end can still meet one).
 */
export async function settleSteps(l: Ledger, stepIds: Iterable<number>): Promise<void> {
  const runs = new Set<number>();
  const ids = [...new Set(stepIds)].sort((a, b) => a - b);
  if (ids.length === 0) return;
  const unlocked = await l.tx.getCounters(ids, 'w');
  for (const id of ids) {
    const seen = unlocked.get(id);
    if (seen && (await farFromEnd(l, id, seen))) continue;
    const step = await l.tx.getJob(id, { lock: true });
    if (!step || step.kind !== 'step' || step.status !== 'running') continue;
    const policy = stepPayload(step).policy;
    const counts = (await l.tx.getCounters([id], 'w')).get(id) ?? emptyCounts();
    const verdict = stepVerdict({ counts, planned: step.planned !== null, policy });
    if (verdict.status === 'running') continue;
    if (verdict.status === 'failed' && verdict.cancelRemaining) {
      if (l.tx.deferCascade) {
        l.tx.deferCascade({ kind: 'step', stepId: id, error: verdict.error });
        continue;
      }
      await l.workersChanged(await l.tx.cancelWorkers({ scope: { stepId: id }, cause: 'failure', error: thresholdCancel(step.name) }));
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

/** What the jobs a step's failure threshold cancels say. */
export function thresholdCancel(stepName: string): string {
  return `Cancelled: step "${stepName}" crossed its failure threshold`;
}

/** True when the step cannot end or fail through anything in flight now (see settleSteps). */
async function farFromEnd(l: Ledger, stepId: number, seen: Counts): Promise<boolean> {
  if (activeCount(seen) <= NEAR_END) return false;
  if (!l.failedWorkersOf(stepId)) return true;
  const step = await l.tx.getJob(stepId); // the policy never changes: no lock needed
  if (!step || step.kind !== 'step') return false;
  const m = stepPayload(step).policy.maxFailures;
  return m.kind === 'count'
    ? seen.failed + NEAR_END <= m.value
    : (seen.failed + NEAR_END) * 100 <= m.value * seen.total;
}

/**
 * Cancels what is still pending or running in a run: its worker jobs, then its steps (job rows before
 * step rows, the lock order every transaction follows).
 */
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
    const error = `Cancelled: step "${plan.failedBy.name}" failed`;
    const runError = `Step "${plan.failedBy.name}" failed: ${plan.failedBy.error ?? 'see its jobs'}`;
    if (l.tx.deferCascade) {
      l.tx.deferCascade({ kind: 'run', managerId, cause: 'failure', error, runError });
      return;
    }
    await cancelRunRemainder(l, managerId, 'failure', error);
    await l.managersChanged(await l.tx.setStatus({ ids: [managerId], from: ['running'], to: 'failed', error: runError, finish: true }));
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
