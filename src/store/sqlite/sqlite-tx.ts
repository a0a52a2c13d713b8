import type Database from 'better-sqlite3';
import type { JobStatus } from '../../core/job.js';
import type { Counts } from '../../core/progress.js';
import type { CounterDeltas } from '../../core/progress.js';
import { changeFromRow, countsFromRow, jobFromRow, managerSnapshotFromRow, stepSnapshotFromRow, type Row } from '../rows.js';
import type { ManagerSnapshot, StepSnapshot } from '../store.js';
import type { ChangedRow, ClaimedRow, CounterScope, JobRow, LeaseAck, NewJobRow, StoreTx, WorkerScope } from '../tx.js';
import * as Q from './queries.js';

type Stmt = Database.Statement<unknown[], unknown>;

/** Statements on the per-job hot path: their rows come back as arrays (see CHANGE_COLS). */
const RAW: ReadonlySet<string> = new Set([
  'CLAIM',
  'CLAIM_TYPES',
  'CLAIM_RUN',
  'CLAIM_FROM_STEP',
  'CLAIM_FROM_STEP_TYPES',
  'COMPLETE',
  'FAIL',
  'BACKOFF',
  'RELEASE',
  'RESCUE_TO_PENDING',
  'RESCUE_TO_FAILED',
  'CANCEL_STEP_WORKERS',
  'CANCEL_WORKER_IDS',
  'RETRY_STEP_WORKERS',
  'RETRY_WORKER_IDS',
]);

/** Every statement of queries.ts (fragments such as column lists excepted), prepared once per connection. */
export function prepareStatements(db: Database.Database): Record<keyof typeof Q, Stmt> {
  const out = {} as Record<keyof typeof Q, Stmt>;
  for (const [name, sql] of Object.entries(Q) as Array<[keyof typeof Q, string]>) {
    if (!/^\s*(SELECT|INSERT|UPDATE|DELETE|WITH)\b/i.test(sql)) continue;
    const stmt = db.prepare(sql);
    out[name] = RAW.has(name) ? stmt.raw(true) : stmt;
  }
  return out;
}

type Raw = unknown[];

/** Rows per statement of a chunked set-based change (about 50 ms of SQLite work each). */
const CHUNK = 20_000;

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
const n = (v: unknown): number => v as number;
const nn = (v: unknown): number | null => (v === null ? null : (v as number));

/** A CHANGE_COLS row as an array. */
function changeFromRaw(r: Raw, prevStatus: JobStatus): ChangedRow {
  return {
    id: n(r[0]),
    kind: r[1] as ChangedRow['kind'],
    parentId: nn(r[2]),
    stepId: nn(r[3]),
    managerId: n(r[4]),
    type: r[5] as string,
    name: r[6] as string,
    status: r[7] as JobStatus,
    attempt: n(r[8]),
    startedAt: nn(r[9]),
    finishedAt: nn(r[10]),
    error: r[11] as string | null,
    prevStatus,
  };
}

/** A CLAIM_COLS row as an array. */
function claimedFromRaw(r: Raw): ClaimedRow {
  // One literal (not a spread of changeFromRaw): this runs once per claimed job.
  return {
    id: n(r[0]),
    kind: r[1] as ChangedRow['kind'],
    parentId: nn(r[2]),
    stepId: nn(r[3]),
    managerId: n(r[4]),
    type: r[5] as string,
    name: r[6] as string,
    status: r[7] as JobStatus,
    attempt: n(r[8]),
    startedAt: nn(r[9]),
    finishedAt: nn(r[10]),
    error: r[11] as string | null,
    prevStatus: 'pending',
    payloadText: (r[12] as string | null) ?? 'null',
    maxAttempts: n(r[13]),
    timeoutMs: nn(r[14]),
    depth: n(r[15]),
    leaseToken: r[16] as string,
  };
}

/**
 * The SQLite side of a transaction. better-sqlite3 is synchronous; the methods are async only to
 * share the StoreTx interface with PostgreSQL. The store serialises transactions, so nothing else
 * touches the connection between BEGIN and COMMIT.
 */
export class SqliteTx implements StoreTx {
  constructor(
    private readonly q: Record<keyof typeof Q, Stmt>,
    /** Prepares (and caches) a statement built at run time. */
    private readonly prepare: (sql: string) => Stmt,
    readonly now: number,
  ) {}

  private jobParams(row: NewJobRow): Record<string, unknown> {
    return { ...row, now: this.now };
  }

  async insertJob(row: NewJobRow): Promise<number> {
    const { id } = this.q.INSERT_JOB.get(this.jobParams(row)) as { id: number };
    if (row.kind === 'manager') this.q.SET_MANAGER_SELF.run({ id });
    return id;
  }

  async insertWorkers(rows: NewJobRow[]): Promise<number> {
    let inserted = 0;
    const stmt = this.q.INSERT_WORKER;
    const now = this.now;
    for (const r of rows) {
      inserted += stmt.run(
        r.kind,
        r.parentId,
        r.stepId,
        r.managerId,
        r.depth,
        r.type,
        r.name,
        r.key,
        r.status,
        r.maxAttempts,
        r.priority,
        r.runAt,
        r.timeoutMs,
        r.lane,
        r.concurrency,
        r.payload,
        r.definitionId,
        now,
        r.startedAt,
      ).changes;
    }
    return inserted;
  }

  async initCounters(ownerId: number, scopes: CounterScope[]): Promise<void> {
    for (const scope of scopes) this.q.INIT_COUNTERS.run({ owner: ownerId, scope });
  }

  async addCounters(deltas: CounterDeltas, scope: CounterScope): Promise<void> {
    for (const [owner, d] of deltas.entries()) this.q.ADD_COUNTERS.run({ owner, scope, ...d });
  }

  async getCounters(ownerIds: number[], scope: CounterScope): Promise<Map<number, Counts>> {
    const rows = this.q.GET_COUNTERS.all({ scope, ids: JSON.stringify(ownerIds) }) as Row[];
    return new Map(rows.map((r) => [Number(r.owner_id), countsFromRow(r)]));
  }

  async getJob(id: number): Promise<JobRow | null> {
    const r = this.q.GET_JOB.get({ id }) as Row | undefined;
    return r ? jobFromRow(r) : null;
  }

  async stepsOfRun(managerId: number): Promise<JobRow[]> {
    return (this.q.STEPS_OF_RUN.all({ managerId }) as Row[]).map(jobFromRow);
  }

  async descendantIds(jobId: number): Promise<number[]> {
    return (this.q.DESCENDANT_IDS.all({ id: jobId }) as Row[]).map((r) => Number(r.id));
  }

  async claimJobs(p: {
    owner: string;
    token: string;
    expiresAt: number;
    limit: number;
    types?: string[];
    managerId?: number;
  }): Promise<ClaimedRow[]> {
    const base = { owner: p.owner, token: p.token, expiresAt: p.expiresAt, limit: p.limit, now: this.now };
    const rows =
      p.managerId !== undefined
        ? (this.q.CLAIM_RUN.all({ ...base, managerId: p.managerId }) as Raw[])
        : p.types
          ? (this.q.CLAIM_TYPES.all({ ...base, types: JSON.stringify(p.types) }) as Raw[])
          : (this.q.CLAIM.all(base) as Raw[]);
    return rows.map(claimedFromRaw);
  }

  async limitedStepsWithRoom(managerId?: number): Promise<Array<{ stepId: number; free: number }>> {
    return (this.q.LIMITED_STEPS_WITH_ROOM.all() as Row[])
      .filter((r) => managerId === undefined || Number(r.manager_id) === managerId)
      .map((r) => ({ stepId: Number(r.step_id), free: Number(r.free) }));
  }

  async claimFromStep(p: {
    stepId: number;
    owner: string;
    token: string;
    expiresAt: number;
    limit: number;
    types?: string[];
  }): Promise<ClaimedRow[]> {
    const base = { stepId: p.stepId, owner: p.owner, token: p.token, expiresAt: p.expiresAt, limit: p.limit, now: this.now };
    const rows = p.types
      ? (this.q.CLAIM_FROM_STEP_TYPES.all({ ...base, types: JSON.stringify(p.types) }) as Raw[])
      : (this.q.CLAIM_FROM_STEP.all(base) as Raw[]);
    return rows.map(claimedFromRaw);
  }

  private eachRunning<T extends LeaseAck>(stmt: Stmt, acks: T[]): ChangedRow[] {
    const out: ChangedRow[] = [];
    const now = this.now;
    for (const a of acks) {
      const r = stmt.get({ ...a, now }) as Raw | undefined;
      if (r) out.push(changeFromRaw(r, 'running'));
    }
    return out;
  }

  async completeJobs(acks: Array<LeaseAck & { result: string }>): Promise<ChangedRow[]> {
    return this.eachRunning(this.q.COMPLETE, acks);
  }

  async failJobs(acks: Array<LeaseAck & { error: string }>): Promise<ChangedRow[]> {
    return this.eachRunning(this.q.FAIL, acks);
  }

  async backoffJobs(acks: Array<LeaseAck & { error: string; runAt: number }>): Promise<ChangedRow[]> {
    return this.eachRunning(this.q.BACKOFF, acks);
  }

  async extendLeases(owner: string, ids: number[], expiresAt: number): Promise<number[]> {
    return (this.q.EXTEND_LEASES.all({ owner, ids: JSON.stringify(ids), expiresAt }) as Row[]).map((r) => Number(r.id));
  }

  async releaseJobs(owner: string, ids: number[]): Promise<ChangedRow[]> {
    const out: ChangedRow[] = [];
    for (const id of ids) {
      const r = this.q.RELEASE.get({ id, owner, now: this.now }) as Raw | undefined;
      if (r) out.push(changeFromRaw(r, 'running'));
    }
    return out;
  }

  async expiredLeases(limit: number): Promise<JobRow[]> {
    return (this.q.EXPIRED_LEASES.all({ now: this.now, limit }) as Row[]).map(jobFromRow);
  }

  async rescueJobs(
    rows: Array<{ id: number; token: string; to: 'pending' | 'failed'; runAt: number; error: string }>,
  ): Promise<ChangedRow[]> {
    const out: ChangedRow[] = [];
    for (const row of rows) {
      const stmt = row.to === 'pending' ? this.q.RESCUE_TO_PENDING : this.q.RESCUE_TO_FAILED;
      const r = stmt.get({ id: row.id, token: row.token, runAt: row.runAt, error: row.error, now: this.now }) as Raw | undefined;
      if (r) out.push(changeFromRaw(r, 'running'));
    }
    return out;
  }

  /**
   * Runs a set-based statement over a scope; a run's scope goes step by step (see jobs_manager).
   * Steps go in chunks inside the one transaction, yielding to the event loop between them: a
   * million-job cancel stays atomic, and the process keeps answering reads (and Ctrl-C) meanwhile.
   */
  private async scoped(
    scope: WorkerScope,
    stmts: { step: Stmt; ids: Stmt },
    from: JobStatus,
    extra: Record<string, unknown>,
  ): Promise<ChangedRow[]> {
    let rows: Raw[] = [];
    const stepIds =
      'stepId' in scope
        ? [scope.stepId]
        : 'managerId' in scope
          ? (this.q.STEPS_OF_RUN.all({ managerId: scope.managerId }) as Row[]).map((r) => Number(r.id))
          : null;
    if (stepIds === null) {
      rows = stmts.ids.all({ ...extra, ids: JSON.stringify((scope as { ids: number[] }).ids), from, now: this.now }) as Raw[];
    } else {
      for (const stepId of stepIds) {
        for (;;) {
          const chunk = stmts.step.all({ ...extra, stepId, from, now: this.now, chunk: CHUNK }) as Raw[];
          // concat, not push(...rows): a step may hand back hundreds of thousands of rows.
          rows = rows.concat(chunk);
          if (chunk.length < CHUNK) break;
          await yieldToEventLoop();
        }
      }
    }
    return rows.map((r) => changeFromRaw(r, from));
  }

  async cancelWorkers(p: { scope: WorkerScope; cause: string; error: string }): Promise<ChangedRow[]> {
    const stmts = { step: this.q.CANCEL_STEP_WORKERS, ids: this.q.CANCEL_WORKER_IDS };
    const extra = { cause: p.cause, error: p.error };
    const pending = await this.scoped(p.scope, stmts, 'pending', extra);
    return pending.concat(await this.scoped(p.scope, stmts, 'running', extra));
  }

  async retryWorkers(scope: WorkerScope): Promise<ChangedRow[]> {
    const stmts = { step: this.q.RETRY_STEP_WORKERS, ids: this.q.RETRY_WORKER_IDS };
    const failed = await this.scoped(scope, stmts, 'failed', {});
    const rows = failed.concat(await this.scoped(scope, stmts, 'cancelled', {}));
    for (const r of rows) {
      this.q.RECORD_RETRY.run({ jobId: r.id, managerId: r.managerId, fromStatus: r.prevStatus, attempt: r.attempt, now: this.now });
    }
    return rows;
  }

  async setStatus(p: Parameters<StoreTx['setStatus']>[0]): Promise<ChangedRow[]> {
    if (p.ids.length === 0) return [];
    const sets = ['status = @to'];
    if (p.error !== undefined) sets.push('error = @error');
    if (p.cancelCause !== undefined) sets.push('cancel_cause = @cancelCause');
    if (p.start) sets.push('started_at = coalesce(started_at, @now)');
    if (p.finish === true) sets.push('finished_at = @now');
    if (p.finish === false) sets.push('finished_at = NULL');
    if (p.release === true) sets.push('run_at = @now');
    if (p.release === false) sets.push('run_at = NULL');
    if (p.clearLease) sets.push('lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL');
    if (p.replan) sets.push('planned = NULL, attempt = attempt + 1, lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL');
    const sql = `UPDATE jobs SET ${sets.join(', ')} WHERE id = @id AND status = @from
      RETURNING id, kind, parent_id, step_id, manager_id, type, name, status, attempt, started_at, finished_at, error`;
    const stmt = this.prepare(sql);
    const out: ChangedRow[] = [];
    for (const id of p.ids) {
      const current = this.q.GET_JOB.get({ id }) as Row | undefined;
      const from = current?.status as JobStatus | undefined;
      if (!from || !p.from.includes(from)) continue;
      const r = stmt.get({ id, from, to: p.to, error: p.error ?? null, cancelCause: p.cancelCause ?? null, now: this.now }) as
        Row | undefined;
      if (r) out.push(changeFromRow(r, from));
    }
    return out;
  }

  async releaseSteps(ids: number[]): Promise<void> {
    for (const id of ids) this.q.RELEASE_STEP.run({ id, now: this.now });
  }

  async markPlanned(p: { stepId: number; token: string; planned: number }): Promise<boolean> {
    return this.q.MARK_PLANNED.run({ id: p.stepId, token: p.token, planned: p.planned }).changes === 1;
  }

  async runsPastDeadline(limit: number): Promise<number[]> {
    return (this.q.RUNS_PAST_DEADLINE.all({ now: this.now, limit }) as Row[]).map((r) => Number(r.id));
  }

  async runningManagers(limit: number): Promise<number[]> {
    return (this.q.RUNNING_MANAGERS.all({ limit }) as Row[]).map((r) => Number(r.id));
  }

  async plannedRunningSteps(limit: number): Promise<number[]> {
    return (this.q.PLANNED_RUNNING_STEPS.all({ limit }) as Row[]).map((r) => Number(r.id));
  }

  async deleteRun(managerId: number): Promise<{ jobs: number; logs: number }> {
    const chunked = async (stmt: Stmt): Promise<number> => {
      let total = 0;
      for (;;) {
        const n = stmt.run({ managerId, chunk: CHUNK }).changes;
        total += n;
        if (n < CHUNK) return total;
        await yieldToEventLoop();
      }
    };
    const logs = await chunked(this.q.DELETE_RUN_LOGS);
    this.q.DELETE_RUN_RETRIES.run({ managerId });
    this.q.DELETE_RUN_COUNTERS.run({ managerId });
    const jobs = await chunked(this.q.DELETE_RUN_JOBS);
    return { jobs, logs };
  }

  async stepSnapshots(ids: number[]): Promise<StepSnapshot[]> {
    if (ids.length === 0) return [];
    return (this.q.STEP_SNAPSHOTS.all({ ids: JSON.stringify(ids) }) as Row[]).map(stepSnapshotFromRow);
  }

  async managerSnapshots(ids: number[]): Promise<ManagerSnapshot[]> {
    if (ids.length === 0) return [];
    return (this.q.MANAGER_SNAPSHOTS.all({ ids: JSON.stringify(ids) }) as Row[]).map(managerSnapshotFromRow);
  }
}
