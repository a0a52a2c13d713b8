import type pg from 'pg';
import type { JobStatus } from '../../core/job.js';
import { addCounts, countsFrom, emptyCounts, type CounterDeltas, type Counts } from '../../core/progress.js';
import {
  changeFromRow,
  claimedFromRow,
  countsFromRow,
  jobFromRow,
  managerSnapshotFromRow,
  stepSnapshotFromRow,
  type Row,
} from '../rows.js';
import type { ManagerSnapshot, StepSnapshot } from '../store.js';
import type { ChangedRow, ClaimedRow, CounterScope, JobRow, LeaseAck, NewJobRow, StoreTx, WorkerScope } from '../tx.js';
import * as Q from './queries.js';

/** Names of the statements in queries.ts (its other exports are numbers and column-list fragments). */
export type QueryName = Exclude<{ [K in keyof typeof Q]: (typeof Q)[K] extends string ? K : never }[keyof typeof Q], 'SUMMARY_COLS'>;

/**
 * PostgreSQL text cannot hold NUL (0x00); SQLite can. Job names, errors and log lines come from
 * handlers (a shell's output, a file's bytes), so NUL becomes U+FFFD instead of failing a whole
 * batch of acknowledgements. JSON columns are unaffected (JSON.stringify escapes NUL as \u0000).
 */
export function pgText(s: string): string;
export function pgText(s: string | null): string | null;
export function pgText(s: string | null): string | null {
  return s !== null && s.includes('\u0000') ? s.replaceAll('\u0000', '\uFFFD') : s;
}

/** Runs a statement of queries.ts as a named prepared statement (parsed once per connection). */
export async function run(client: pg.ClientBase, name: QueryName, values: unknown[] = []): Promise<Row[]> {
  const text: string = Q[name];
  const r = await client.query<Row>({ name: `stepq_${name}`, text, values });
  return r.rows;
}

/** Runs a statement of queries.ts for its row count. */
export async function exec(client: pg.ClientBase, name: QueryName, values: unknown[] = []): Promise<number> {
  const text: string = Q[name];
  const r = await client.query({ name: `stepq_${name}`, text, values });
  return r.rowCount ?? 0;
}

const STATUS_KEYS = ['pending', 'running', 'completed', 'failed', 'cancelled'] as const;

/**
 * The PostgreSQL side of one transaction (READ COMMITTED) on one pooled connection.
 *
 * Counter deltas are kept here and written in one statement together with COMMIT (`commit`):
 * readers inside the transaction add them to what the table holds, and the counter shard rows are
 * locked only for the last round trip instead of the whole transaction.
 */
export class PostgresTx implements StoreTx {
  /** Steps whose judgement settleSteps left to the store (see StoreTx.deferSettle). */
  readonly settleIds = new Set<number>();
  /** Absent in a settling transaction (the store's own, after a commit): it settles in place. */
  readonly deferSettle?: (stepIds: number[]) => void;
  private readonly deltas = new Map<string, { owner: number; scope: CounterScope; d: Record<JobStatus, number> }>();

  constructor(
    private readonly client: pg.ClientBase,
    /** The database clock, read once when the transaction began. */
    readonly now: number,
    /** The counter shard this transaction writes to. */
    private readonly shard: number,
    opts: { settling?: boolean } = {},
  ) {
    if (!opts.settling) this.deferSettle = (ids) => ids.forEach((id) => this.settleIds.add(id));
  }

  private q(name: QueryName, values: unknown[] = []): Promise<Row[]> {
    return run(this.client, name, values);
  }

  async fenceInserts(stepId: number): Promise<void> {
    await this.q('FENCE_STEP_SHARED', [stepId]);
  }

  async insertJob(row: NewJobRow): Promise<number> {
    const [r] = await this.q('INSERT_JOB', [
      row.kind,
      row.parentId,
      row.stepId,
      row.managerId,
      row.depth,
      pgText(row.type),
      pgText(row.name),
      pgText(row.key),
      row.status,
      row.maxAttempts,
      row.priority,
      row.runAt,
      row.timeoutMs,
      row.lane,
      row.concurrency,
      row.payload,
      row.definitionId,
      this.now,
      row.startedAt,
    ]);
    const id = Number(r!.id);
    if (row.kind === 'manager') await this.q('SET_MANAGER_SELF', [id]);
    return id;
  }

  async insertWorkers(rows: NewJobRow[]): Promise<number> {
    if (rows.length === 0) return 0;
    return exec(this.client, 'INSERT_WORKERS', [
      rows.map((x) => x.parentId),
      rows.map((x) => x.stepId),
      rows.map((x) => x.managerId),
      rows.map((x) => x.depth),
      rows.map((x) => pgText(x.type)),
      rows.map((x) => pgText(x.name)),
      rows.map((x) => pgText(x.key)),
      rows.map((x) => x.maxAttempts),
      rows.map((x) => x.priority),
      rows.map((x) => x.runAt),
      rows.map((x) => x.timeoutMs),
      rows.map((x) => x.lane),
      rows.map((x) => x.payload),
      this.now,
    ]);
  }

  async initCounters(ownerId: number, scopes: CounterScope[]): Promise<void> {
    await this.q('INIT_COUNTERS', [ownerId, scopes]);
  }

  async addCounters(deltas: CounterDeltas, scope: CounterScope): Promise<void> {
    for (const [owner, d] of deltas.entries()) {
      const key = `${scope}:${owner}`;
      const cur = this.deltas.get(key);
      if (!cur) {
        this.deltas.set(key, { owner, scope, d: { ...d } });
        continue;
      }
      for (const s of STATUS_KEYS) cur.d[s] += d[s];
    }
  }

  /** This transaction's not yet written counter deltas of `owner` in `scope`, as counts. */
  private own(owner: number, scope: CounterScope): Counts | null {
    const cur = this.deltas.get(`${scope}:${owner}`);
    return cur ? countsFrom(cur.d) : null;
  }

  private withOwn(counts: Counts, owner: number, scope: CounterScope): Counts {
    const own = this.own(owner, scope);
    return own ? addCounts(counts, own) : counts;
  }

  /** Writes the counter deltas of this transaction to its shard and commits, in one round trip. */
  /**
   * Writes the counter deltas of this transaction to its shard, reads the snapshots asked for, and
   * commits: one round trip (the simple query protocol, values written into the text by queries.ts).
   */
  async commit(): Promise<void> {
    const entries = [...this.deltas.values()].filter((e) => STATUS_KEYS.some((s) => e.d[s] !== 0));
    this.deltas.clear();
    const due = this.snapshotsDue;
    const wantSnapshots = due.stepIds.size > 0 || due.managerIds.size > 0;
    const sql = [
      ...(entries.length ? [Q.addCountersSql(this.shard, entries)] : []),
      ...(wantSnapshots ? [Q.snapshotsSql([...due.stepIds], [...due.managerIds])] : []),
      'COMMIT',
    ].join(';\n');
    const res = (await this.client.query(sql)) as unknown as pg.QueryResult<Row> | Array<pg.QueryResult<Row>>;
    if (!wantSnapshots) return;
    const results = Array.isArray(res) ? res : [res];
    const row = results[entries.length ? 1 : 0]?.rows[0];
    const parse = (v: unknown): Row[] => (v === null || v === undefined ? [] : (JSON.parse(String(v)) as Row[]));
    const steps = parse(row?.steps).map(stepSnapshotFromRow);
    const managers = parse(row?.managers).map(managerSnapshotFromRow);
    for (const out of due.steps) out.push(...steps);
    for (const out of due.managers) out.push(...managers);
  }

  async getCounters(ownerIds: number[], scope: CounterScope): Promise<Map<number, Counts>> {
    const out = new Map<number, Counts>();
    if (ownerIds.length === 0) return out;
    for (const r of await this.q('GET_COUNTERS', [scope, ownerIds])) out.set(Number(r.owner_id), countsFromRow(r));
    for (const id of ownerIds) {
      const base = out.get(id);
      if (base) out.set(id, this.withOwn(base, id, scope));
      else if (this.own(id, scope)) out.set(id, this.withOwn(emptyCounts(), id, scope));
    }
    return out;
  }

  async getJob(id: number, opts: { lock?: boolean } = {}): Promise<JobRow | null> {
    const [r] = await this.q(opts.lock ? 'GET_JOB_FOR_UPDATE' : 'GET_JOB', [id]);
    return r ? jobFromRow(r) : null;
  }

  async stepsOfRun(managerId: number, opts: { lock?: boolean } = {}): Promise<JobRow[]> {
    return (await this.q(opts.lock ? 'STEPS_OF_RUN_FOR_UPDATE' : 'STEPS_OF_RUN', [managerId])).map(jobFromRow);
  }

  async descendantIds(jobId: number): Promise<number[]> {
    return (await this.q('DESCENDANT_IDS', [jobId])).map((r) => Number(r.id));
  }

  async claimJobs(p: {
    owner: string;
    token: string;
    expiresAt: number;
    limit: number;
    types?: string[];
    managerId?: number;
  }): Promise<ClaimedRow[]> {
    const base = [pgText(p.owner), p.token, p.expiresAt, this.now, p.limit];
    const rows =
      p.managerId !== undefined
        ? await this.q('CLAIM_RUN', [...base, p.managerId])
        : p.types
          ? await this.q('CLAIM_TYPES', [...base, p.types])
          : await this.q('CLAIM', base);
    return rows.map(claimedFromRow);
  }

  async limitedStepsWithRoom(managerId?: number): Promise<Array<{ stepId: number; free: number }>> {
    return (await this.q('LIMITED_STEPS_WITH_ROOM'))
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
    // `limit` was computed from counters read without a lock; two claimers could both see the same
    // free slots. Under the step's lane lock (held to commit, after this transaction's counters are
    // written) the free count read here is exact.
    await this.q('LANE_LOCK', [p.stepId]);
    const [room] = await this.q('STEP_ROOM', [p.stepId]);
    const limit = Math.min(p.limit, room ? Number(room.free) : 0);
    if (limit <= 0) return [];
    const base = [pgText(p.owner), p.token, p.expiresAt, this.now, limit, p.stepId];
    const rows = p.types ? await this.q('CLAIM_FROM_STEP_TYPES', [...base, p.types]) : await this.q('CLAIM_FROM_STEP', base);
    return rows.map(claimedFromRow);
  }

  async completeJobs(acks: Array<LeaseAck & { result: string }>): Promise<ChangedRow[]> {
    const rows = await this.q('COMPLETE', [acks.map((a) => a.id), acks.map((a) => a.token), acks.map((a) => a.result), this.now]);
    return rows.map((r) => changeFromRow(r, 'running'));
  }

  async failJobs(acks: Array<LeaseAck & { error: string }>): Promise<ChangedRow[]> {
    const rows = await this.q('FAIL', [acks.map((a) => a.id), acks.map((a) => a.token), acks.map((a) => pgText(a.error)), this.now]);
    return rows.map((r) => changeFromRow(r, 'running'));
  }

  async backoffJobs(acks: Array<LeaseAck & { error: string; runAt: number }>): Promise<ChangedRow[]> {
    const rows = await this.q('BACKOFF', [
      acks.map((a) => a.id),
      acks.map((a) => a.token),
      acks.map((a) => pgText(a.error)),
      acks.map((a) => a.runAt),
    ]);
    return rows.map((r) => changeFromRow(r, 'running'));
  }

  async extendLeases(owner: string, ids: number[], expiresAt: number): Promise<number[]> {
    return (await this.q('EXTEND_LEASES', [pgText(owner), ids, expiresAt])).map((r) => Number(r.id));
  }

  async releaseJobs(owner: string, ids: number[]): Promise<ChangedRow[]> {
    return (await this.q('RELEASE', [pgText(owner), ids, this.now])).map((r) => changeFromRow(r, 'running'));
  }

  async expiredLeases(limit: number): Promise<JobRow[]> {
    return (await this.q('EXPIRED_LEASES', [this.now, limit])).map(jobFromRow);
  }

  async rescueJobs(
    rows: Array<{ id: number; token: string; to: 'pending' | 'failed'; runAt: number; error: string }>,
  ): Promise<ChangedRow[]> {
    const toPending = rows.filter((r) => r.to === 'pending');
    const toFailed = rows.filter((r) => r.to === 'failed');
    const out: Row[] = [];
    if (toPending.length) {
      out.push(
        ...(await this.q('RESCUE_TO_PENDING', [
          toPending.map((r) => r.id),
          toPending.map((r) => r.token),
          toPending.map((r) => r.runAt),
          toPending.map((r) => pgText(r.error)),
          this.now,
        ])),
      );
    }
    if (toFailed.length) {
      out.push(
        ...(await this.q('RESCUE_TO_FAILED', [
          toFailed.map((r) => r.id),
          toFailed.map((r) => r.token),
          toFailed.map((r) => pgText(r.error)),
          this.now,
        ])),
      );
    }
    return out.map((r) => changeFromRow(r, 'running'));
  }

  async cancelWorkers(p: { scope: WorkerScope; cause: string; error: string }): Promise<ChangedRow[]> {
    const set = [p.cause, pgText(p.error), this.now];
    const scope = p.scope;
    let rows: Row[];
    if ('stepId' in scope) {
      await this.q('FENCE_STEP', [scope.stepId]);
      rows = await this.q('CANCEL_STEP_WORKERS', [...set, scope.stepId]);
    } else if ('managerId' in scope) {
      await this.q('FENCE_RUN_STEPS', [scope.managerId]);
      rows = await this.q('CANCEL_RUN_WORKERS', [...set, scope.managerId]);
    } else {
      // A subtree inside a running step: no fence (the spawner locks the parent row before it would
      // take the fence, so fencing here could deadlock). Instead, repeat until nothing changes: a
      // child committed while a pass waited for its parent's row is found by the next pass.
      rows = [];
      for (let pass = 0; pass < 10; pass++) {
        const found = await this.q('CANCEL_WORKER_IDS', [...set, scope.ids]);
        if (found.length === 0) break;
        rows = rows.concat(found); // not push(...found): a subtree may be very large
      }
    }
    return rows.map((r) => changeFromRow(r, r.prev_status as JobStatus));
  }

  async retryWorkers(scope: WorkerScope): Promise<ChangedRow[]> {
    const rows =
      'stepId' in scope
        ? await this.q('RETRY_STEP_WORKERS', [this.now, scope.stepId])
        : 'managerId' in scope
          ? await this.q('RETRY_RUN_WORKERS', [this.now, scope.managerId])
          : await this.q('RETRY_WORKER_IDS', [this.now, scope.ids]);
    return rows.map((r) => changeFromRow(r, r.prev_status as JobStatus));
  }

  async setStatus(p: Parameters<StoreTx['setStatus']>[0]): Promise<ChangedRow[]> {
    if (p.ids.length === 0) return [];
    const values: unknown[] = [p.ids, p.from];
    const param = (v: unknown): string => {
      values.push(v);
      return `$${values.length}`;
    };
    const sets = [`status = ${param(p.to)}`];
    const now = (): string => `${param(this.now)}::bigint`;
    if (p.error !== undefined) sets.push(`error = ${param(pgText(p.error ?? null))}`);
    if (p.cancelCause !== undefined) sets.push(`cancel_cause = ${param(p.cancelCause ?? null)}`);
    if (p.start) sets.push(`started_at = coalesce(j.started_at, ${now()})`);
    if (p.finish === true) sets.push(`finished_at = ${now()}`);
    if (p.finish === false) sets.push('finished_at = NULL');
    if (p.release === true) sets.push(`run_at = ${now()}`);
    if (p.release === false) sets.push('run_at = NULL');
    if (p.clearLease || p.replan) sets.push('lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL');
    if (p.replan) sets.push('planned = NULL, attempt = j.attempt + 1');
    // The CTE locks the rows (in id order) and yields each one's status at lock time: the prior
    // status the counters move from, exact even when another transaction changed the row first.
    const sql = `
WITH old AS (
  SELECT id, status FROM jobs WHERE id = ANY($1::bigint[]) AND status = ANY($2::text[]) ORDER BY id FOR UPDATE
)
UPDATE jobs j SET ${sets.join(', ')} FROM old WHERE j.id = old.id
RETURNING j.id, j.kind, j.parent_id, j.step_id, j.manager_id, j.type, j.name, j.status, j.attempt, j.started_at,
          j.finished_at, j.error, old.status AS prev_status`;
    const r = await this.client.query<Row>(sql, values);
    return r.rows.map((row) => changeFromRow(row, row.prev_status as JobStatus));
  }

  async releaseSteps(ids: number[]): Promise<void> {
    if (ids.length) await this.q('RELEASE_STEP', [ids, this.now]);
  }

  async markPlanned(p: { stepId: number; token: string; planned: number }): Promise<boolean> {
    return (await exec(this.client, 'MARK_PLANNED', [p.stepId, p.token, p.planned])) === 1;
  }

  async runsPastDeadline(limit: number): Promise<number[]> {
    return (await this.q('RUNS_PAST_DEADLINE', [this.now, limit])).map((r) => Number(r.id));
  }

  async runningManagers(limit: number): Promise<number[]> {
    return (await this.q('RUNNING_MANAGERS', [limit])).map((r) => Number(r.id));
  }

  async plannedRunningSteps(limit: number): Promise<number[]> {
    return (await this.q('PLANNED_RUNNING_STEPS', [limit])).map((r) => Number(r.id));
  }

  async deleteRun(managerId: number): Promise<{ jobs: number; logs: number }> {
    const count = async (name: QueryName): Promise<number> =>
      (await this.client.query({ name: `stepq_${name}`, text: Q[name], values: [managerId] })).rowCount ?? 0;
    const logs = await count('DELETE_RUN_LOGS');
    await count('DELETE_RUN_RETRIES');
    await count('DELETE_RUN_COUNTERS');
    const jobs = await count('DELETE_RUN_JOBS');
    return { jobs, logs };
  }

  /**
   * Snapshots asked for by the Ledger (last, in `finish`), read in the commit's round trip, after
   * this transaction's counters are written: the arrays returned below are filled by `commit`, before
   * the store hands the mutation's result (and so these effects) to anyone.
   */
  private readonly snapshotsDue = {
    stepIds: new Set<number>(),
    managerIds: new Set<number>(),
    steps: [] as StepSnapshot[][],
    managers: [] as ManagerSnapshot[][],
  };

  async stepSnapshots(ids: number[]): Promise<StepSnapshot[]> {
    const out: StepSnapshot[] = [];
    if (ids.length === 0) return out;
    for (const id of ids) this.snapshotsDue.stepIds.add(id);
    this.snapshotsDue.steps.push(out);
    return out;
  }

  async managerSnapshots(ids: number[]): Promise<ManagerSnapshot[]> {
    const out: ManagerSnapshot[] = [];
    if (ids.length === 0) return out;
    for (const id of ids) this.snapshotsDue.managerIds.add(id);
    this.snapshotsDue.managers.push(out);
    return out;
  }
}
