/**
 * The store's mutations, written once over a dialect's `StoreTx`. Each function runs inside one
 * transaction opened by the dialect's store class and returns what it changed.
 */
import { randomBytes } from 'node:crypto';
import { backoffDelay } from '../core/backoff.js';
import { StepqError } from '../core/errors.js';
import { isTerminal, type CancelCause, type JobStatus } from '../core/job.js';
import type { StepPolicy } from '../core/lifecycle.js';
import { CounterDeltas } from '../core/progress.js';
import type { WorkerSpec } from '../core/step-type.js';
import { Ledger } from './ledger.js';
import { cancelRunRemainder, cancelWorkersAndSteps, settleRun, settleSteps } from './settle.js';
import { stepPayloadOf as stepPayload } from './store.js';
import type { Acknowledgement, ClaimedJob, Effects, ManagerPayload, NewRun, StepPayload } from './store.js';
import type { ChangedRow, ClaimedRow, JobRow, NewJobRow, StoreTx, WorkerScope } from './tx.js';

/** Largest JSON payload or result accepted for one job; a 10 MB payload is fine, a 100 MB one is not. */
export const MAX_JSON_BYTES = 16 * 1024 * 1024;

/** Attempts a step gets at planning (a plan that throws, or whose worker died, is run again). */
const PLANNING_ATTEMPTS = 3;

export function leaseToken(): string {
  return randomBytes(9).toString('base64url');
}

function checkJsonSize(text: string, what: string): void {
  if (text.length > MAX_JSON_BYTES) {
    throw new StepqError('ERR_PAYLOAD_TOO_LARGE', `${what} is ${text.length} bytes of JSON; the limit is ${MAX_JSON_BYTES}.`, {
      bytes: text.length,
      limit: MAX_JSON_BYTES,
    });
  }
}

export async function createRun(tx: StoreTx, run: NewRun): Promise<{ managerId: number; stepIds: number[]; effects: Effects }> {
  const l = new Ledger(tx);
  const now = tx.now;
  const managerPayload: ManagerPayload = {
    definitionId: run.definitionId,
    params: run.params,
    definition: run.definition,
    timeoutMs: run.timeoutMs,
  };
  const payloadText = JSON.stringify(managerPayload);
  checkJsonSize(payloadText, 'The run request');
  const managerId = await tx.insertJob({
    kind: 'manager',
    parentId: null,
    stepId: null,
    managerId: 0,
    depth: 0,
    type: run.definitionId,
    name: run.name,
    key: null,
    status: 'running',
    maxAttempts: 1,
    priority: 0,
    runAt: null,
    timeoutMs: run.timeoutMs,
    lane: 0,
    concurrency: null,
    payload: payloadText,
    definitionId: run.definitionId,
    startedAt: now,
  });
  await tx.initCounters(managerId, ['w', 's']);
  const created: ChangedRow[] = [
    changeOf({
      id: managerId,
      kind: 'manager',
      parentId: null,
      stepId: null,
      managerId,
      type: run.definitionId,
      name: run.name,
      status: 'running',
      startedAt: now,
    }),
  ];
  const stepIds: number[] = [];
  for (const step of run.steps) {
    const payload: StepPayload = {
      type: step.type,
      config: step.config,
      policy: step.policy,
      dependsOn: step.dependsOn,
      ...(step.description ? { description: step.description } : {}),
    };
    const id = await tx.insertJob({
      kind: 'step',
      parentId: managerId,
      stepId: null,
      managerId,
      depth: 1,
      type: step.type,
      name: step.name,
      key: null,
      status: 'pending',
      maxAttempts: PLANNING_ATTEMPTS,
      priority: step.policy.priority,
      runAt: step.dependsOn.length === 0 ? now : null,
      timeoutMs: null,
      lane: 0,
      concurrency: step.policy.concurrency,
      payload: JSON.stringify(payload),
      definitionId: null,
      startedAt: null,
    });
    await tx.initCounters(id, ['w']);
    stepIds.push(id);
    created.push(
      changeOf({
        id,
        kind: 'step',
        parentId: managerId,
        stepId: null,
        managerId,
        type: step.type,
        name: step.name,
        status: 'pending',
        startedAt: null,
      }),
    );
  }
  const counters = new CounterDeltas();
  counters.move(managerId, null, 'pending', run.steps.length);
  await tx.addCounters(counters, 's');
  const global = new CounterDeltas();
  global.move(0, null, 'running');
  await tx.addCounters(global, 'm');
  l.created(created);
  await settleRun(l, managerId);
  return { managerId, stepIds, effects: await l.finish() };
}

function changeOf(p: Omit<ChangedRow, 'prevStatus' | 'attempt' | 'finishedAt' | 'error'>): ChangedRow {
  return { ...p, prevStatus: p.status, attempt: 1, finishedAt: null, error: null };
}

export async function enqueueMany(
  tx: StoreTx,
  params: { stepId: number; parentId: number; token: string; jobs: WorkerSpec[]; seq?: number },
): Promise<{ inserted: number; effects: Effects }> {
  const l = new Ledger(tx);
  // A spawn (the parent is a worker job) takes the step's insert fence before its parent's lock: a
  // set-based cancel takes the step's row, then the fence, then the worker rows, so neither waits
  // for what the other holds. Planning locks the step's row itself, which already orders it with
  // any cancel of the step (taking the fence too would invert that order).
  if (params.parentId !== params.stepId) await tx.fenceInserts?.(params.stepId);
  const parent = await tx.getJob(params.parentId, { lock: true });
  if (!parent) throw new StepqError('ERR_JOB_NOT_FOUND', `Job ${params.parentId} does not exist.`);
  if (parent.status !== 'running' || parent.leaseToken !== params.token) {
    throw new StepqError(
      'ERR_LEASE_LOST',
      `Job ${params.parentId} no longer holds its lease (it is ${parent.status}); its new jobs were not added.`,
    );
  }
  const step = parent.kind === 'step' ? parent : await tx.getJob(params.stepId);
  if (!step || step.kind !== 'step' || (parent.kind === 'worker' && parent.stepId !== step.id)) {
    throw new StepqError('ERR_JOB_NOT_FOUND', `Step ${params.stepId} does not exist or does not own job ${params.parentId}.`);
  }
  if (step.status !== 'running') {
    throw new StepqError('ERR_JOB_NOT_IN_STATUS', `Step "${step.name}" is ${step.status}; no new jobs are added to it.`);
  }
  const policy: StepPolicy = stepPayload(step).policy;
  const now = tx.now;
  const seq = params.seq ?? 0;
  const rows: NewJobRow[] = params.jobs.map((spec, i) => {
    const payload = JSON.stringify(spec.payload ?? null);
    checkJsonSize(payload, `The payload of job "${spec.name ?? spec.key ?? i}"`);
    return {
      kind: 'worker',
      parentId: parent.id,
      stepId: step.id,
      managerId: step.managerId,
      depth: parent.depth + 1,
      type: step.type,
      name: spec.name ?? spec.key ?? (parent.kind === 'step' ? `${step.name} #${seq + i + 1}` : `${parent.name} / ${seq + i + 1}`),
      key: spec.key ?? null,
      status: 'pending',
      maxAttempts: policy.maxAttempts,
      priority: policy.priority + (spec.priority ?? 0),
      runAt: now + Math.max(0, spec.delayMs ?? 0),
      timeoutMs: policy.timeoutMs,
      lane: policy.concurrency ? 1 : 0,
      concurrency: null,
      payload,
      definitionId: null,
      startedAt: null,
    };
  });
  const inserted = rows.length > 0 ? await tx.insertWorkers(rows) : 0;
  await l.workersInserted(step.id, step.managerId, inserted);
  return { inserted, effects: await l.finish() };
}

export async function markPlanned(tx: StoreTx, params: { stepId: number; token: string; planned: number }): Promise<Effects> {
  const l = new Ledger(tx);
  const ok = await tx.markPlanned(params);
  if (!ok) {
    const step = await tx.getJob(params.stepId);
    if (!step) throw new StepqError('ERR_JOB_NOT_FOUND', `Step ${params.stepId} does not exist.`);
    if (step.status !== 'running') return l.finish(); // cancelled or failed meanwhile: nothing to do
    throw new StepqError('ERR_LEASE_LOST', `Step "${step.name}" is being planned by another worker.`);
  }
  await settleSteps(l, [params.stepId]);
  return l.finish();
}

function toClaimed(r: ClaimedRow): ClaimedJob {
  return {
    id: r.id,
    kind: r.kind === 'step' ? 'step' : 'worker',
    type: r.type,
    name: r.name,
    payload: JSON.parse(r.payloadText),
    attempt: r.attempt,
    maxAttempts: r.maxAttempts,
    timeoutMs: r.timeoutMs,
    depth: r.depth,
    parentId: r.parentId,
    stepId: r.kind === 'step' ? r.id : (r.stepId ?? 0),
    managerId: r.managerId,
    leaseToken: r.leaseToken,
  };
}

export async function claim(
  tx: StoreTx,
  params: { owner: string; limit: number; leaseMs: number; types?: string[]; managerId?: number },
): Promise<{ jobs: ClaimedJob[]; effects: Effects }> {
  const l = new Ledger(tx);
  const token = leaseToken();
  const expiresAt = tx.now + params.leaseMs;
  const base = { owner: params.owner, token, expiresAt, ...(params.types ? { types: params.types } : {}) };
  const rows = await tx.claimJobs({
    ...base,
    limit: params.limit,
    ...(params.managerId !== undefined ? { managerId: params.managerId } : {}),
  });
  if (rows.length < params.limit) {
    for (const { stepId, free } of await tx.limitedStepsWithRoom(params.managerId)) {
      const room = Math.min(free, params.limit - rows.length);
      if (room <= 0) break;
      rows.push(...(await tx.claimFromStep({ ...base, stepId, limit: room })));
    }
  }
  await l.workersChanged(rows.filter((r) => r.kind === 'worker'));
  await l.stepsChanged(rows.filter((r) => r.kind === 'step'));
  return { jobs: rows.map(toClaimed), effects: await l.finish() };
}

export async function acknowledge(tx: StoreTx, acks: Acknowledgement[]): Promise<{ lost: number[]; effects: Effects }> {
  const l = new Ledger(tx);
  const completed: Array<{ id: number; token: string; result: string }> = [];
  const failed: Array<{ id: number; token: string; error: string }> = [];
  const retried: Array<{ id: number; token: string; error: string; runAt: number }> = [];
  for (const a of acks) {
    if (a.status === 'completed') {
      const result = JSON.stringify(a.result ?? null);
      if (result.length > MAX_JSON_BYTES) {
        // A result too large to store fails the job (retrying would produce the same result).
        failed.push({
          id: a.id,
          token: a.token,
          error: `ERR_PAYLOAD_TOO_LARGE: the result is ${result.length} bytes of JSON; the limit is ${MAX_JSON_BYTES}.`,
        });
        continue;
      }
      completed.push({ id: a.id, token: a.token, result });
    } else if (a.retryInMs !== null) {
      retried.push({ id: a.id, token: a.token, error: a.error, runAt: tx.now + Math.max(0, a.retryInMs) });
    } else {
      failed.push({ id: a.id, token: a.token, error: a.error });
    }
  }
  const changed = [
    ...(completed.length ? await tx.completeJobs(completed) : []),
    ...(failed.length ? await tx.failJobs(failed) : []),
    ...(retried.length ? await tx.backoffJobs(retried) : []),
  ];
  const matched = new Set(changed.map((r) => r.id));
  const lost = acks.filter((a) => !matched.has(a.id)).map((a) => a.id);
  await applyLeasedChanges(l, changed);
  return { lost, effects: await l.finish() };
}

/** Books changes of leased jobs (workers, and steps that were planning) and settles what they end. */
async function applyLeasedChanges(l: Ledger, changed: ChangedRow[]): Promise<void> {
  const workers = changed.filter((r) => r.kind === 'worker');
  const steps = changed.filter((r) => r.kind === 'step');
  await l.workersChanged(workers);
  await l.stepsChanged(steps);
  await settleSteps(
    l,
    workers.map((r) => r.stepId ?? 0),
  );
  for (const managerId of new Set(steps.filter((s) => isTerminal(s.status)).map((s) => s.managerId))) {
    await settleRun(l, managerId);
  }
}

export async function release(tx: StoreTx, params: { owner: string; ids: number[] }): Promise<{ affected: number; effects: Effects }> {
  const l = new Ledger(tx);
  const changed = params.ids.length ? await tx.releaseJobs(params.owner, params.ids) : [];
  await applyLeasedChanges(l, changed);
  return { affected: changed.length, effects: await l.finish() };
}

export async function rescueExpiredLeases(tx: StoreTx, params: { limit: number }): Promise<{ affected: number; effects: Effects }> {
  const l = new Ledger(tx);
  const expired = await tx.expiredLeases(params.limit);
  const policies = new Map<number, StepPolicy>();
  const decisions: Array<{ id: number; token: string; to: 'pending' | 'failed'; runAt: number; error: string }> = [];
  for (const job of expired) {
    // A worker that died is not the job's fault: a job whose lease expired gets one attempt beyond
    // its `retries` (like a stalled-job allowance), but not two in a row (a job that kills its worker
    // every time must end, failed).
    const lostBefore = (job.error ?? '').startsWith('ERR_LEASE_EXPIRED');
    const left = job.attempt < job.maxAttempts || (job.kind === 'worker' && !lostBefore);
    const error = `ERR_LEASE_EXPIRED: the worker holding attempt ${job.attempt} stopped heartbeating (lease expired)`;
    let runAt = tx.now;
    if (left && job.kind === 'worker' && job.stepId !== null) {
      let policy = policies.get(job.stepId);
      if (!policy) {
        const step = await tx.getJob(job.stepId);
        policy = step ? stepPayload(step).policy : undefined;
        if (policy) policies.set(job.stepId, policy);
      }
      if (policy) runAt += backoffDelay({ policy: policy.backoff, attempt: job.attempt });
    }
    decisions.push({ id: job.id, token: job.leaseToken ?? '', to: left ? 'pending' : 'failed', runAt, error });
  }
  const changed = decisions.length ? await tx.rescueJobs(decisions) : [];
  await applyLeasedChanges(l, changed);
  return { affected: changed.length, effects: await l.finish() };
}

export async function sweep(tx: StoreTx): Promise<Effects> {
  const l = new Ledger(tx);
  for (const managerId of await tx.runsPastDeadline(100)) {
    // Not locked here: cancelRunRemainder locks the steps, then the jobs; the run comes last.
    const manager = await tx.getJob(managerId);
    if (!manager || manager.status !== 'running') continue;
    const limit = manager.timeoutMs ?? 0;
    await cancelRunRemainder(l, managerId, 'timeout', `Cancelled: the run exceeded its timeout (${limit} ms)`);
    await l.managersChanged(
      await tx.setStatus({
        ids: [managerId],
        from: ['running'],
        to: 'failed',
        error: `ERR_JOB_TIMEOUT: the run exceeded its timeout of ${limit} ms`,
        finish: true,
      }),
    );
  }
  await settleSteps(l, await tx.plannedRunningSteps(1000));
  for (const managerId of await tx.runningManagers(1000)) await settleRun(l, managerId);
  return l.finish();
}

export async function cancel(
  tx: StoreTx,
  params: { id: number; cause?: CancelCause; reason?: string },
): Promise<{ affected: number; effects: Effects }> {
  const l = new Ledger(tx);
  // Lock order: steps, then job rows, then the run. A step or a worker is locked here; a run's
  // steps are locked by cancelRunRemainder before its jobs, and the run after them.
  let job = await tx.getJob(params.id);
  if (job && job.kind !== 'manager') job = await tx.getJob(params.id, { lock: true });
  if (!job) throw new StepqError('ERR_JOB_NOT_FOUND', `Job ${params.id} does not exist.`, { id: params.id });
  if (isTerminal(job.status)) return { affected: 0, effects: await l.finish() };
  const cause = params.cause ?? 'user';
  const error = params.reason ?? (cause === 'user' ? 'Cancelled by user' : `Cancelled (${cause})`);
  let affected = 0;
  if (job.kind === 'manager') {
    affected += await cancelRunRemainder(l, job.id, cause, error);
    const rows = await tx.setStatus({
      ids: [job.id],
      from: ['running', 'pending'],
      to: 'cancelled',
      cancelCause: cause,
      error,
      finish: true,
    });
    affected += rows.length;
    await l.managersChanged(rows);
  } else if (job.kind === 'step') {
    affected += await cancelWorkersAndSteps(l, { stepId: job.id }, [job.id], cause, error);
    await settleRun(l, job.managerId);
  } else {
    const ids = [job.id, ...(await tx.descendantIds(job.id))];
    const workers = await tx.cancelWorkers({ scope: { ids }, cause, error });
    await l.workersChanged(workers);
    affected += workers.length;
    await settleSteps(l, [job.stepId ?? 0]);
  }
  return { affected, effects: await l.finish() };
}

const RETRYABLE_CANCEL: readonly (CancelCause | null)[] = ['failure', 'dependency', 'timeout'];

export async function retry(tx: StoreTx, params: { id: number }): Promise<{ affected: number; effects: Effects }> {
  const l = new Ledger(tx);
  // Lock order: the run's steps, then the retried jobs, then the run.
  const job = await tx.getJob(params.id);
  if (!job) throw new StepqError('ERR_JOB_NOT_FOUND', `Job ${params.id} does not exist.`, { id: params.id });
  const managerId = job.managerId;
  const steps = await tx.stepsOfRun(managerId, { lock: true });
  // What a user cancelled stays cancelled: a retry brings back what failed, never what was stopped
  // on purpose (a run or step cancelled by a user, and everything in it).
  const byUser = (s: { status: JobStatus; cancelCause: string | null }): boolean => s.status === 'cancelled' && s.cancelCause === 'user';
  const manager = job.kind === 'manager' ? job : await tx.getJob(managerId);
  if (!manager || byUser(manager)) return { affected: 0, effects: await l.finish() };
  const eligible = steps.filter((s) => !byUser(s));
  let workers: ChangedRow[] = [];
  if (job.kind === 'manager') {
    for (const s of eligible) workers = workers.concat(await tx.retryWorkers({ stepId: s.id }));
  } else {
    const stepId = job.kind === 'step' ? job.id : job.stepId;
    if (!eligible.some((s) => s.id === stepId)) return { affected: 0, effects: await l.finish() };
    const scope: WorkerScope = job.kind === 'step' ? { stepId: job.id } : { ids: [job.id] };
    workers = await tx.retryWorkers(scope);
  }
  await l.workersChanged(workers);

  // Steps to bring back: those whose jobs were retried, plus (for a run or step retry) steps that
  // ended because of the failure: a failed plan, or a cascade cancel (failure, dependency, timeout).
  const retriedSteps = new Set(workers.map((w) => w.stepId));
  const inScope = (s: JobRow): boolean => job.kind === 'manager' || s.id === job.id || s.id === job.stepId;
  const reopen: number[] = [];
  const replan: number[] = [];
  const rewait: number[] = [];
  for (const s of eligible) {
    if (!isTerminal(s.status)) continue;
    const cascade = s.status === 'cancelled' && RETRYABLE_CANCEL.includes(s.cancelCause);
    const failedPlan = s.status === 'failed' && s.planned === null;
    if (retriedSteps.has(s.id) && s.planned !== null) reopen.push(s.id);
    else if (failedPlan && inScope(s)) replan.push(s.id);
    else if (cascade && job.kind !== 'worker') {
      if (s.planned !== null) reopen.push(s.id);
      else if (s.startedAt !== null && inScope(s)) replan.push(s.id);
      else rewait.push(s.id);
    }
  }
  if (workers.length === 0 && reopen.length === 0 && replan.length === 0) {
    return { affected: 0, effects: await l.finish() };
  }
  const terminal: JobStatus[] = ['completed', 'failed', 'cancelled'];
  await l.stepsChanged(await tx.setStatus({ ids: reopen, from: terminal, to: 'running', error: null, cancelCause: null, finish: false }));
  await l.stepsChanged(
    await tx.setStatus({
      ids: replan,
      from: terminal,
      to: 'pending',
      error: null,
      cancelCause: null,
      finish: false,
      release: true,
      replan: true,
    }),
  );
  await l.stepsChanged(
    await tx.setStatus({ ids: rewait, from: terminal, to: 'pending', error: null, cancelCause: null, finish: false, release: false }),
  );
  await l.managersChanged(
    await tx.setStatus({ ids: [managerId], from: terminal, to: 'running', error: null, cancelCause: null, finish: false }),
  );
  await settleSteps(l, reopen);
  await settleRun(l, managerId);
  return { affected: workers.length + replan.length, effects: await l.finish() };
}

export async function deleteRun(tx: StoreTx, params: { managerId: number }): Promise<{ jobs: number; logs: number; effects: Effects }> {
  const l = new Ledger(tx);
  const manager = await tx.getJob(params.managerId, { lock: true });
  if (!manager || manager.kind !== 'manager') {
    throw new StepqError('ERR_JOB_NOT_FOUND', `Run ${params.managerId} does not exist.`, { id: params.managerId });
  }
  if (!isTerminal(manager.status)) {
    throw new StepqError('ERR_RUN_ACTIVE', `Run ${params.managerId} is ${manager.status}; cancel it before deleting it.`, {
      id: params.managerId,
      status: manager.status,
    });
  }
  // The run leaves the global counts: its manager, and its worker jobs by status.
  const workers = (await tx.getCounters([params.managerId], 'w')).get(params.managerId);
  const deleted = await tx.deleteRun(params.managerId);
  const d = new CounterDeltas();
  d.move(0, manager.status, null);
  await tx.addCounters(d, 'm');
  if (workers) {
    const w = new CounterDeltas();
    for (const status of ['pending', 'running', 'completed', 'failed', 'cancelled'] as const) w.move(0, status, null, workers[status]);
    await tx.addCounters(w, 'w');
  }
  l.markStatsChanged();
  return { ...deleted, effects: await l.finish() };
}

/**
 * Settles steps after the transaction that moved their jobs committed (StoreTx.deferSettle): under
 * each step's lock, on counters read after it. Idempotent: a step already ended is left alone.
 */
export async function settleAfterCommit(tx: StoreTx, stepIds: number[]): Promise<Effects> {
  const l = new Ledger(tx);
  await settleSteps(l, stepIds);
  return l.finish();
}
