import { mkdirSync } from 'node:fs';
import { dirname, resolve as resolvePath } from 'node:path';
import Database from 'better-sqlite3';
import { systemClock, type Clock } from '../../core/clock.js';
import { StepqError } from '../../core/errors.js';
import { LOG_LEVELS, type Job, type JobStatus, type LogLine, type NewLogLine } from '../../core/job.js';
import { countsFrom, type Counts } from '../../core/progress.js';
import * as M from '../mutations.js';
import {
  countsFromRow,
  decodeCursor,
  definitionFromRow,
  encodeCursor,
  jobFromRow,
  logFromRow,
  managerSnapshotFromRow,
  stepSnapshotFromRow,
  summaryFromRow,
  type Row,
} from '../rows.js';
import type {
  Acknowledgement,
  ClaimedJob,
  Effects,
  JobFilter,
  JobSummary,
  LogFilter,
  ManagerSnapshot,
  NewRun,
  Page,
  StepSnapshot,
  Store,
  StoreCapabilities,
  StoredDefinition,
} from '../store.js';
import type { JobRow } from '../tx.js';
import type { WorkerSpec } from '../../core/step-type.js';
import type { CancelCause } from '../../core/job.js';
import { migrateSqlite } from './migrate.js';
import * as Q from './queries.js';
import { prepareStatements, SqliteTx } from './sqlite-tx.js';

type Stmt = Database.Statement<unknown[], unknown>;

export interface SqliteStoreOptions {
  /** Path of the database file (created with its folder if missing). */
  path: string;
  clock?: Clock;
}

/**
 * One write queue per database file in this process. A transaction holds SQLite's write lock across
 * awaits; a second connection to the same file in the same process that tried BEGIN IMMEDIATE then
 * would block the event loop in SQLite's busy wait, and the first could never commit (a deadlock
 * until busy_timeout). Other processes just wait for the lock, which is released at commit.
 */
const writeQueues = new Map<string, { tail: Promise<unknown> }>();

function publicJob(row: JobRow): Job {
  const { leaseToken: _token, ...job } = row;
  void _token;
  return job;
}

/**
 * The embedded store: one SQLite file in WAL mode. Writes go through one connection, one
 * transaction at a time (SQLite has a single writer anyway); reads use a second connection, so they
 * never wait for a write and never see one half done.
 */
export class SqliteStore implements Store {
  readonly capabilities: StoreCapabilities = { dialect: 'sqlite', multiProcess: false };
  private readonly db: Database.Database;
  private readonly reader: Database.Database;
  private q!: Record<keyof typeof Q, Stmt>;
  private r!: Record<keyof typeof Q, Stmt>;
  private readonly dynamic = new Map<string, Stmt>();
  private readonly readDynamic = new Map<string, Stmt>();
  /** This file's write queue, shared by every store on it in this process (see writeQueues). */
  private readonly writes: { tail: Promise<unknown> };
  private readonly clock: Clock;
  private closed = false;

  constructor(readonly options: SqliteStoreOptions) {
    this.clock = options.clock ?? systemClock;
    const key = resolvePath(options.path);
    let writes = writeQueues.get(key);
    if (!writes) {
      writes = { tail: Promise.resolve() };
      writeQueues.set(key, writes);
    }
    this.writes = writes;
    mkdirSync(dirname(options.path), { recursive: true });
    this.db = new Database(options.path);
    this.db.pragma('journal_mode = WAL');
    // NORMAL in WAL mode: a power loss may drop the last commits but never corrupts the file.
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 10000');
    this.db.pragma('cache_size = -65536');
    // Checkpoint every ~16 MB of WAL instead of 4 MB: pages rewritten by consecutive transactions
    // (the same claim index and counter pages, over and over) are copied back once, not four times.
    this.db.pragma('wal_autocheckpoint = 4000');
    this.reader = new Database(options.path);
    this.reader.pragma('busy_timeout = 10000');
    this.reader.pragma('query_only = ON');
  }

  async migrate(): Promise<void> {
    migrateSqlite(this.db);
    this.q = prepareStatements(this.db);
    this.r = prepareStatements(this.reader);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.writes.tail.catch(() => undefined);
    this.reader.close();
    this.db.close();
  }

  async now(): Promise<number> {
    return this.clock.now();
  }

  private prepareCached(sql: string): Stmt {
    let s = this.dynamic.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.dynamic.set(sql, s);
    }
    return s;
  }

  private prepareRead(sql: string): Stmt {
    let s = this.readDynamic.get(sql);
    if (!s) {
      s = this.reader.prepare(sql);
      this.readDynamic.set(sql, s);
    }
    return s;
  }

  /** Runs `fn` in a write transaction, after every transaction queued before it. */
  private write<T>(fn: (tx: SqliteTx) => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      if (this.closed) throw new StepqError('ERR_INTERNAL', 'The store is closed.');
      this.db.exec('BEGIN IMMEDIATE');
      try {
        const result = await fn(new SqliteTx(this.q, (sql) => this.prepareCached(sql), this.clock.now()));
        this.db.exec('COMMIT');
        return result;
      } catch (err) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        throw err;
      }
    };
    const p = this.writes.tail.then(run, run);
    this.writes.tail = p.catch(() => undefined);
    return p;
  }

  // ---- mutations (shared logic in ../mutations.ts) -------------------------------------------

  async createRun(run: NewRun): Promise<{ manager: Job; steps: Job[]; effects: Effects }> {
    return this.write(async (tx) => {
      const { managerId, effects } = await M.createRun(tx, run);
      const manager = await tx.getJob(managerId);
      const steps = await tx.stepsOfRun(managerId);
      return { manager: publicJob(manager!), steps: steps.map(publicJob), effects };
    });
  }

  enqueueMany(params: { stepId: number; parentId: number; token: string; jobs: WorkerSpec[]; seq?: number }) {
    return this.write((tx) => M.enqueueMany(tx, params));
  }

  markPlanned(params: { stepId: number; token: string; planned: number }): Promise<Effects> {
    return this.write((tx) => M.markPlanned(tx, params));
  }

  claim(params: {
    owner: string;
    limit: number;
    leaseMs: number;
    types?: string[];
    managerId?: number;
  }): Promise<{ jobs: ClaimedJob[]; effects: Effects }> {
    return this.write((tx) => M.claim(tx, params));
  }

  heartbeat(params: { owner: string; leaseMs: number; ids: number[] }): Promise<{ held: number[] }> {
    if (params.ids.length === 0) return Promise.resolve({ held: [] });
    return this.write(async (tx) => ({ held: await tx.extendLeases(params.owner, params.ids, tx.now + params.leaseMs) }));
  }

  acknowledge(params: { acks: Acknowledgement[] }): Promise<{ lost: number[]; effects: Effects }> {
    return this.write((tx) => M.acknowledge(tx, params.acks));
  }

  release(params: { owner: string; ids: number[] }) {
    return this.write((tx) => M.release(tx, params));
  }

  rescueExpiredLeases(params: { limit: number }) {
    return this.write((tx) => M.rescueExpiredLeases(tx, params));
  }

  sweep(): Promise<Effects> {
    return this.write((tx) => M.sweep(tx));
  }

  cancel(params: { id: number; cause?: CancelCause; reason?: string }) {
    return this.write((tx) => M.cancel(tx, params));
  }

  retry(params: { id: number }) {
    return this.write((tx) => M.retry(tx, params));
  }

  deleteRun(params: { managerId: number }) {
    return this.write((tx) => M.deleteRun(tx, params));
  }

  // ---- reads ---------------------------------------------------------------------------------

  async getJob(id: number): Promise<Job | null> {
    const r = this.r.GET_JOB.get({ id }) as Row | undefined;
    return r ? publicJob(jobFromRow(r)) : null;
  }

  /** WHERE clause and arguments of a job filter, shared by the list queries. */
  private jobWhere(params: JobFilter & { cursor?: string; order?: 'asc' | 'desc' }): { where: string; args: Record<string, unknown> } {
    const where: string[] = [];
    const args: Record<string, unknown> = {};
    if (params.parentId === null) where.push(`kind = 'manager'`);
    else if (params.parentId !== undefined) {
      where.push('parent_id = @parentId');
      args.parentId = params.parentId;
    }
    if (params.stepId !== undefined) {
      where.push('step_id = @stepId');
      args.stepId = params.stepId;
    }
    if (params.managerId !== undefined) {
      where.push('manager_id = @managerId');
      args.managerId = params.managerId;
    }
    if (params.kind !== undefined) {
      where.push('kind = @kind');
      args.kind = params.kind;
    }
    if (params.definitionId !== undefined) {
      where.push('definition_id = @definitionId');
      args.definitionId = params.definitionId;
    }
    if (params.status && params.status.length === 1) {
      where.push('status = @status');
      args.status = params.status[0];
    } else if (params.status && params.status.length > 1) {
      where.push('status IN (SELECT value FROM json_each(@statuses))');
      args.statuses = JSON.stringify(params.status);
    }
    if (params.ids) {
      where.push('id IN (SELECT value FROM json_each(@ids))');
      args.ids = JSON.stringify(params.ids.slice(0, 1000));
    }
    if (params.q) {
      where.push(`name LIKE @q ESCAPE '\\'`);
      args.q = `%${params.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    }
    if (params.cursor !== undefined) {
      const after = decodeCursor(params.cursor);
      if (after === null) throw new StepqError('ERR_BAD_CURSOR', 'The cursor is not one this server issued.', { cursor: params.cursor });
      where.push((params.order ?? 'asc') === 'asc' ? 'id > @after' : 'id < @after');
      args.after = after;
    }
    return { where: where.length ? `WHERE ${where.join(' AND ')}` : '', args };
  }

  private page<T extends { id: number }>(rows: T[], limit: number): Page<T> {
    const more = rows.length > limit;
    const data = more ? rows.slice(0, limit) : rows;
    return { data, nextCursor: more ? encodeCursor(data[data.length - 1]!.id) : null };
  }

  async listJobs(params: JobFilter & { limit: number; cursor?: string; order?: 'asc' | 'desc' }): Promise<Page<Job>> {
    const { where, args } = this.jobWhere(params);
    const limit = Math.max(1, Math.min(1000, Math.floor(params.limit)));
    const sql = `SELECT * FROM jobs ${where} ORDER BY id ${(params.order ?? 'asc') === 'asc' ? 'ASC' : 'DESC'} LIMIT @limit`;
    const rows = (this.prepareRead(sql).all({ ...args, limit: limit + 1 }) as Row[]).map((r) => publicJob(jobFromRow(r)));
    return this.page(rows, limit);
  }

  async listJobSummaries(
    params: JobFilter & { limit: number; cursor?: string; offset?: number; order?: 'asc' | 'desc'; headChars: number },
  ): Promise<Page<JobSummary>> {
    const { where, args } = this.jobWhere(params);
    const limit = Math.max(1, Math.min(1000, Math.floor(params.limit)));
    // OFFSET walks the index (no rows read): a jump to row 500,000 of a step costs one index scan.
    const offset = params.offset !== undefined && params.cursor === undefined ? Math.max(0, Math.floor(params.offset)) : 0;
    const sql = `SELECT ${Q.SUMMARY_COLS} FROM jobs ${where} ORDER BY id ${(params.order ?? 'asc') === 'asc' ? 'ASC' : 'DESC'} LIMIT @limit OFFSET @offset`;
    const rows = (this.prepareRead(sql).all({ ...args, limit: limit + 1, offset, head: params.headChars }) as Row[]).map(summaryFromRow);
    return this.page(rows, limit);
  }

  async getStepSnapshot(stepId: number): Promise<StepSnapshot | null> {
    const r = this.r.STEP_SNAPSHOTS.get({ ids: JSON.stringify([stepId]) }) as Row | undefined;
    return r ? stepSnapshotFromRow(r) : null;
  }

  async getManagerSnapshot(managerId: number): Promise<ManagerSnapshot | null> {
    const r = this.r.MANAGER_SNAPSHOTS.get({ ids: JSON.stringify([managerId]) }) as Row | undefined;
    return r ? managerSnapshotFromRow(r) : null;
  }

  async getProgress(id: number): Promise<Counts | null> {
    const job = this.r.GET_JOB.get({ id }) as Row | undefined;
    if (!job) return null;
    if (job.kind === 'worker') {
      const parts: Partial<Record<JobStatus, number>> = {};
      for (const r of this.r.SUBTREE_COUNTS.all({ id }) as Row[]) parts[r.status as JobStatus] = Number(r.n);
      return countsFrom(parts);
    }
    const r = this.r.GET_COUNTERS.get({ scope: 'w', ids: JSON.stringify([id]) }) as Row | undefined;
    return countsFromRow(r);
  }

  async getStats(): Promise<{ runs: Counts; jobs: Counts }> {
    const rows = this.r.STATS.all() as Row[];
    return {
      runs: countsFromRow(rows.find((r) => r.scope === 'm')),
      jobs: countsFromRow(rows.find((r) => r.scope === 'w')),
    };
  }

  async listRetries(jobId: number): Promise<Array<{ at: number; fromStatus: JobStatus; attempt: number }>> {
    return (this.r.LIST_RETRIES.all({ jobId }) as Row[]).map((r) => ({
      at: Number(r.at),
      fromStatus: r.from_status as JobStatus,
      attempt: Number(r.attempt),
    }));
  }

  // ---- logs ----------------------------------------------------------------------------------

  appendLogs(lines: NewLogLine[]): Promise<LogLine[]> {
    if (lines.length === 0) return Promise.resolve([]);
    return this.write(async () =>
      lines.map((line) => {
        const { id } = this.q.INSERT_LOG.get(line) as { id: number };
        return { ...line, id };
      }),
    );
  }

  async listLogs(filter: LogFilter): Promise<Page<LogLine>> {
    const job = this.r.GET_JOB.get({ id: filter.jobId }) as Row | undefined;
    if (!job) throw new StepqError('ERR_JOB_NOT_FOUND', `Job ${filter.jobId} does not exist.`, { id: filter.jobId });
    const where: string[] = [];
    const args: Record<string, unknown> = { id: filter.jobId };
    if (job.kind === 'manager') where.push('manager_id = @id');
    else if (job.kind === 'step') where.push('step_id = @id');
    else where.push('job_id = @id');
    if (filter.level) {
      where.push('level IN (SELECT value FROM json_each(@levels))');
      args.levels = JSON.stringify(LOG_LEVELS.slice(LOG_LEVELS.indexOf(filter.level)));
    }
    const order = filter.order ?? 'asc';
    if (filter.cursor !== undefined) {
      const after = decodeCursor(filter.cursor);
      if (after === null) throw new StepqError('ERR_BAD_CURSOR', 'The cursor is not one this server issued.', { cursor: filter.cursor });
      where.push(order === 'asc' ? 'id > @after' : 'id < @after');
      args.after = after;
    }
    const limit = Math.max(1, Math.min(5000, Math.floor(filter.limit)));
    args.limit = limit + 1;
    const sql = `SELECT * FROM logs WHERE ${where.join(' AND ')} ORDER BY id ${order === 'asc' ? 'ASC' : 'DESC'} LIMIT @limit`;
    const rows = (this.prepareRead(sql).all(args) as Row[]).map(logFromRow);
    const more = rows.length > limit;
    const data = more ? rows.slice(0, limit) : rows;
    return { data, nextCursor: more ? encodeCursor(data[data.length - 1]!.id) : null };
  }

  // ---- definitions and schedules --------------------------------------------------------------

  saveDefinition(def: Omit<StoredDefinition, 'updatedAt'>): Promise<StoredDefinition> {
    return this.write(async (tx) => {
      this.q.SAVE_DEFINITION.run({ ...def, now: tx.now });
      return { ...def, updatedAt: tx.now };
    });
  }

  async getDefinition(id: string): Promise<StoredDefinition | null> {
    const r = this.r.GET_DEFINITION.get({ id }) as Row | undefined;
    return r ? definitionFromRow(r) : null;
  }

  async listDefinitions(): Promise<StoredDefinition[]> {
    return (this.r.LIST_DEFINITIONS.all() as Row[]).map(definitionFromRow);
  }

  deleteDefinition(id: string): Promise<boolean> {
    return this.write(async () => {
      this.q.DELETE_SCHEDULE.run({ id });
      return this.q.DELETE_DEFINITION.run({ id }).changes === 1;
    });
  }

  advanceSchedule(params: { definitionId: string; expected: number | null; next: number }): Promise<boolean> {
    return this.write(async () => {
      if (params.expected === null) return this.q.INSERT_SCHEDULE.run(params).changes === 1;
      return this.q.ADVANCE_SCHEDULE.run(params).changes === 1;
    });
  }

  async getSchedule(definitionId: string): Promise<number | null> {
    const r = this.r.GET_SCHEDULE.get({ definitionId }) as Row | undefined;
    return r ? Number(r.next_at) : null;
  }
}
