import { createHash, randomInt } from 'node:crypto';
import pg from 'pg';
import type { Clock } from '../../core/clock.js';
import { StepqError } from '../../core/errors.js';
import { LOG_LEVELS, type CancelCause, type Job, type JobStatus, type LogLine, type NewLogLine } from '../../core/job.js';
import { countsFrom, type Counts } from '../../core/progress.js';
import type { WorkerSpec } from '../../core/step-type.js';
import { stepVerdict } from '../../core/lifecycle.js';
import * as M from '../mutations.js';
import {
  countsFromRow,
  decodeCursor,
  definitionFromRow,
  encodeCursor,
  jobFromRow,
  logFromRow,
  managerSnapshotFromRow,
  parseJson,
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
  StepPayload,
  StoreCapabilities,
  StoredDefinition,
} from '../store.js';
import type { JobRow } from '../tx.js';
import { migratePostgres, quoteIdent } from './migrate.js';
import * as Q from './queries.js';
import { COUNTER_SHARDS, NOW } from './queries.js';
import { exec, pgText, PostgresTx, run, type QueryName } from './postgres-tx.js';

export interface PostgresStoreOptions {
  /** `postgres://user:password@host:port/database` (libpq-style parameters as `pg` accepts them). */
  connectionString: string;
  /**
   * Schema holding stepq's tables (created by `migrate`; default `public`). Installations sharing a
   * database each use their own schema; their LISTEN/NOTIFY channels are kept apart too.
   */
  schema?: string;
  /** Connections in the pool (default 16). */
  poolSize?: number;
  /**
   * Tests only: drive time with this clock instead of the database's. In production every process
   * must compare leases against the one database clock, so leave it unset.
   */
  clock?: Clock;
  /** Called for errors of idle pooled connections (the pool replaces them); default: ignored. */
  onError?: (err: Error) => void;
}

/**
 * Options from a store URL: `postgres://user:pass@host:port/db?schema=stepq&pool_size=32`. `schema`
 * and `pool_size` are stepq's and taken out; every other parameter goes to `pg` unchanged.
 */
export function postgresOptionsFromUrl(url: string): Pick<PostgresStoreOptions, 'connectionString' | 'schema' | 'poolSize'> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new StepqError('ERR_STORE_URL', `Cannot parse the store URL "${url.replace(/:[^:@/]*@/, ':***@')}".`);
  }
  const schema = parsed.searchParams.get('schema');
  const poolSize = parsed.searchParams.get('pool_size');
  parsed.searchParams.delete('schema');
  parsed.searchParams.delete('pool_size');
  const n = poolSize === null ? undefined : Number(poolSize);
  if (n !== undefined && !(Number.isInteger(n) && n >= 1)) {
    throw new StepqError('ERR_STORE_URL', `pool_size must be a whole number ≥ 1, not "${poolSize}".`);
  }
  return {
    connectionString: parsed.toString(),
    ...(schema ? { schema } : {}),
    ...(n !== undefined ? { poolSize: n } : {}),
  };
}

/** The URL without its `options` parameter, and that parameter (libpq's server options). */
function splitServerOptions(url: string): { connectionString: string; serverOptions: string } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { connectionString: url, serverOptions: '' };
  }
  const serverOptions = parsed.searchParams.get('options') ?? '';
  parsed.searchParams.delete('options');
  return { connectionString: parsed.toString(), serverOptions };
}

/** Where the LISTEN/NOTIFY bridge of this store connects and which channels it uses. */
export interface NotifyTarget {
  /** Sends notifications (autocommit statements outside the mutations' transactions). */
  pool: pg.Pool;
  /** Configuration for the bridge's own dedicated listening connection. */
  clientConfig: pg.ClientConfig;
  channels: { wake: string; events: string };
}

/**
 * Result parsers for this store's connections (not the process-wide `pg.types`, so other users of
 * `pg` in the process are unaffected): bigint (ids, epoch ms, counts) as number (they stay below
 * 2^53), and json as its text, which rows.ts parses (a json string result "123" stays a string).
 */
export const PG_TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (oid === 20) return (v: string) => Number(v);
    if (oid === 114 || oid === 3802) return (v: string) => v;
    return pg.types.getTypeParser(oid, format ?? 'text');
  }) as pg.CustomTypesConfig['getTypeParser'],
};

/** PostgreSQL codes worth running the whole transaction again for. */
const RETRYABLE = new Set(['40P01' /* deadlock_detected */, '40001' /* serialization_failure */]);
const MAX_ATTEMPTS = 8;

/** Adds `more` (later) to `into`: job changes appended, newer snapshots replacing older ones. */
function mergeEffects(into: Effects, more: Effects): void {
  into.jobs.push(...more.jobs);
  for (const s of more.steps) {
    const i = into.steps.findIndex((x) => x.stepId === s.stepId);
    if (i >= 0) into.steps[i] = s;
    else into.steps.push(s);
  }
  for (const m of more.managers) {
    const i = into.managers.findIndex((x) => x.managerId === m.managerId);
    if (i >= 0) into.managers[i] = m;
    else into.managers.push(m);
  }
  into.statsChanged ||= more.statsChanged;
}

function publicJob(row: JobRow): Job {
  const { leaseToken: _token, ...job } = row;
  void _token;
  return job;
}

function channelSuffix(schema: string): string {
  if (schema === 'public') return '';
  // Channel names are identifiers (at most 63 bytes); long schema names go by a hash.
  return Buffer.byteLength(schema) <= 40 ? `:${schema}` : `:${createHash('sha1').update(schema).digest('hex').slice(0, 16)}`;
}

/**
 * The shared store: PostgreSQL through a `pg.Pool`, for any number of processes and machines. Each
 * mutation is one READ COMMITTED transaction on one pooled connection, run again when PostgreSQL
 * aborts it as a deadlock victim; reads run outside transactions. The shared logic (mutations.ts,
 * settle.ts) is the one SQLite runs; this class and postgres-tx.ts only speak PostgreSQL. See
 * ARCHITECTURE.md beside this file for the locking rules.
 */
export class PostgresStore implements Store {
  readonly capabilities: StoreCapabilities = { dialect: 'postgres', multiProcess: true };
  readonly pool: pg.Pool;
  readonly schema: string;
  private readonly clientConfig: pg.ClientConfig;
  private closed = false;

  constructor(readonly options: PostgresStoreOptions) {
    this.schema = options.schema ?? 'public';
    if (!/^[^\u0000]{1,63}$/.test(this.schema)) {
      throw new StepqError('ERR_STORE_URL', `"${this.schema}" cannot be a PostgreSQL schema name.`);
    }
    // Every connection resolves stepq's tables in its schema, whatever the role's default path. The
    // URL may carry server options of its own (`?options=-c synchronous_commit=off`): both are kept
    // (pg lets the URL's `options` replace the configured one, so it is taken out and joined here).
    const { connectionString, serverOptions } = splitServerOptions(options.connectionString);
    this.clientConfig = {
      connectionString,
      types: PG_TYPES,
      options: [serverOptions, `-c search_path=${quoteIdent(this.schema).replace(/ /g, '\\ ')}`].filter(Boolean).join(' '),
      application_name: 'stepq',
    };
    this.pool = new pg.Pool({ ...this.clientConfig, max: options.poolSize ?? 16 });
    this.pool.on('error', (err) => options.onError?.(err));
  }

  notifyTarget(): NotifyTarget {
    const suffix = channelSuffix(this.schema);
    return {
      pool: this.pool,
      clientConfig: { ...this.clientConfig, application_name: 'stepq-listen' },
      channels: { wake: `stepq_wake${suffix}`, events: `stepq_events${suffix}` },
    };
  }

  async migrate(): Promise<void> {
    const client = await this.pool.connect();
    try {
      await migratePostgres(client, this.schema);
    } finally {
      client.release();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }

  async now(): Promise<number> {
    if (this.options.clock) return this.options.clock.now();
    const { rows } = await this.pool.query<{ now: number }>(NOW);
    return Number(rows[0]!.now);
  }

  private read(name: QueryName, values: unknown[] = []): Promise<Row[]> {
    if (this.closed) throw new StepqError('ERR_INTERNAL', 'The store is closed.');
    return run(this.pool as unknown as pg.ClientBase, name, values);
  }

  /**
   * Runs `fn` in one transaction on one pooled connection. The clock is read in the same round trip
   * as BEGIN; counter deltas are written in the same round trip as COMMIT. A deadlock victim or
   * serialization failure runs again from the start (the mutation functions keep no state between
   * attempts). After the commit, on the same connection, the steps whose judgement settleSteps
   * deferred are read; those that may have ended are returned, to be settled (see settle.ts).
   */
  private async transaction<T>(
    fn: (tx: PostgresTx, client: pg.PoolClient) => Promise<T>,
    opts: { settling?: boolean } = {},
  ): Promise<{ result: T; toSettle: number[] }> {
    for (let attempt = 1; ; attempt++) {
      if (this.closed) throw new StepqError('ERR_INTERNAL', 'The store is closed.');
      const client = await this.pool.connect();
      let broken: Error | undefined;
      try {
        let now: number;
        if (this.options.clock) {
          await client.query('BEGIN');
          now = this.options.clock.now();
        } else {
          const results = (await client.query(`BEGIN; ${NOW}`)) as unknown as Array<pg.QueryResult<{ now: number }>>;
          now = Number(results[1]!.rows[0]!.now);
        }
        const tx = new PostgresTx(client, now, randomInt(COUNTER_SHARDS), opts);
        const result = await fn(tx, client);
        await tx.commit();
        let toSettle: number[] = [];
        if (tx.settleIds.size > 0) {
          try {
            toSettle = await this.dueSteps(client, [...tx.settleIds]);
          } catch (err) {
            // The mutation stands; its steps stay running until the sweep settles them.
            broken = err as Error;
            this.options.onError?.(broken);
          }
        }
        return { result, toSettle };
      } catch (err) {
        try {
          await client.query('ROLLBACK');
        } catch (rollbackErr) {
          broken = rollbackErr as Error;
        }
        const code = (err as { code?: unknown }).code;
        if (typeof code === 'string' && RETRYABLE.has(code) && attempt < MAX_ATTEMPTS) {
          await new Promise((r) => setTimeout(r, randomInt(2, 10 + 20 * attempt)));
          continue;
        }
        throw err;
      } finally {
        client.release(broken);
      }
    }
  }

  /** Of the running steps `ids`, those whose committed counters say they may have ended. */
  private async dueSteps(client: pg.ClientBase, ids: number[]): Promise<number[]> {
    const rows = await run(client, 'STEPS_TO_SETTLE', [ids]);
    return rows
      .filter((r) => {
        const policy = (parseJson(r.payload) as unknown as StepPayload).policy;
        return stepVerdict({ counts: countsFromRow(r), planned: r.planned !== null, policy }).status !== 'running';
      })
      .map((r) => Number(r.id));
  }

  /**
   * A mutation: `fn` in a transaction, then, in a transaction of its own, the settling of the steps
   * it left to judge after its commit; the effects of that are added to the mutation's (`effectsOf`
   * finds them in its result). Should the settling fail, the steps stay running and the sweep
   * settles them.
   */
  private async write<T>(fn: (tx: PostgresTx, client: pg.PoolClient) => Promise<T>, effectsOf?: (r: T) => Effects): Promise<T> {
    const { result, toSettle } = await this.transaction(fn);
    if (toSettle.length > 0) {
      try {
        const settled = await this.transaction((tx) => M.settleAfterCommit(tx, toSettle), { settling: true });
        if (effectsOf) mergeEffects(effectsOf(result), settled.result);
      } catch (err) {
        this.options.onError?.(err as Error);
      }
    }
    return result;
  }

  // ---- mutations (shared logic in ../mutations.ts) -------------------------------------------

  createRun(run: NewRun): Promise<{ manager: Job; steps: Job[]; effects: Effects }> {
    return this.write(
      async (tx) => {
        const { managerId, effects } = await M.createRun(tx, run);
        const manager = await tx.getJob(managerId);
        const steps = await tx.stepsOfRun(managerId);
        return { manager: publicJob(manager!), steps: steps.map(publicJob), effects };
      },
      (r) => r.effects,
    );
  }

  enqueueMany(params: { stepId: number; parentId: number; token: string; jobs: WorkerSpec[]; seq?: number }) {
    return this.write(
      (tx) => M.enqueueMany(tx, params),
      (r) => r.effects,
    );
  }

  markPlanned(params: { stepId: number; token: string; planned: number }): Promise<Effects> {
    return this.write(
      (tx) => M.markPlanned(tx, params),
      (e) => e,
    );
  }

  claim(params: {
    owner: string;
    limit: number;
    leaseMs: number;
    types?: string[];
    managerId?: number;
  }): Promise<{ jobs: ClaimedJob[]; effects: Effects }> {
    return this.write(
      (tx) => M.claim(tx, params),
      (r) => r.effects,
    );
  }

  heartbeat(params: { owner: string; leaseMs: number; ids: number[] }): Promise<{ held: number[] }> {
    if (params.ids.length === 0) return Promise.resolve({ held: [] });
    return this.write(async (tx) => ({ held: await tx.extendLeases(params.owner, params.ids, tx.now + params.leaseMs) }));
  }

  acknowledge(params: { acks: Acknowledgement[] }): Promise<{ lost: number[]; effects: Effects }> {
    return this.write(
      (tx) => M.acknowledge(tx, params.acks),
      (r) => r.effects,
    );
  }

  release(params: { owner: string; ids: number[] }) {
    return this.write(
      (tx) => M.release(tx, params),
      (r) => r.effects,
    );
  }

  rescueExpiredLeases(params: { limit: number }) {
    return this.write(
      (tx) => M.rescueExpiredLeases(tx, params),
      (r) => r.effects,
    );
  }

  sweep(): Promise<Effects> {
    return this.write(
      (tx) => M.sweep(tx),
      (e) => e,
    );
  }

  cancel(params: { id: number; cause?: CancelCause; reason?: string }) {
    return this.write(
      (tx) => M.cancel(tx, params),
      (r) => r.effects,
    );
  }

  retry(params: { id: number }) {
    return this.write(
      (tx) => M.retry(tx, params),
      (r) => r.effects,
    );
  }

  deleteRun(params: { managerId: number }) {
    return this.write(
      (tx) => M.deleteRun(tx, params),
      (r) => r.effects,
    );
  }

  // ---- reads ---------------------------------------------------------------------------------

  async getJob(id: number): Promise<Job | null> {
    const [r] = await this.read('GET_JOB', [id]);
    return r ? publicJob(jobFromRow(r)) : null;
  }

  /** WHERE clause of a job filter (parameters from `first` on), shared by the list queries. */
  private jobWhere(params: JobFilter & { cursor?: string; order?: 'asc' | 'desc' }, values: unknown[]): string {
    const where: string[] = [];
    const param = (v: unknown): string => {
      values.push(v);
      return `$${values.length}`;
    };
    if (params.parentId === null) where.push(`kind = 'manager'`);
    else if (params.parentId !== undefined) where.push(`parent_id = ${param(params.parentId)}`);
    if (params.stepId !== undefined) where.push(`step_id = ${param(params.stepId)}`);
    if (params.managerId !== undefined) where.push(`manager_id = ${param(params.managerId)}`);
    if (params.kind !== undefined) where.push(`kind = ${param(params.kind)}`);
    if (params.definitionId !== undefined) where.push(`definition_id = ${param(params.definitionId)}`);
    if (params.status && params.status.length === 1) where.push(`status = ${param(params.status[0])}`);
    else if (params.status && params.status.length > 1) where.push(`status = ANY(${param(params.status)}::text[])`);
    if (params.ids) where.push(`id = ANY(${param(params.ids.slice(0, 1000))}::bigint[])`);
    // Case-insensitive substring, as SQLite's LIKE: ILIKE with the wildcards of the text escaped.
    if (params.q) where.push(`name ILIKE ${param(`%${pgText(params.q).replace(/[\\%_]/g, (c) => `\\${c}`)}%`)} ESCAPE '\\'`);
    if (params.cursor !== undefined) {
      const after = decodeCursor(params.cursor);
      if (after === null) throw new StepqError('ERR_BAD_CURSOR', 'The cursor is not one this server issued.', { cursor: params.cursor });
      where.push((params.order ?? 'asc') === 'asc' ? `id > ${param(after)}` : `id < ${param(after)}`);
    }
    return where.length ? `WHERE ${where.join(' AND ')}` : '';
  }

  private page<T extends { id: number }>(rows: T[], limit: number): Page<T> {
    const more = rows.length > limit;
    const data = more ? rows.slice(0, limit) : rows;
    return { data, nextCursor: more ? encodeCursor(data[data.length - 1]!.id) : null };
  }

  async listJobs(params: JobFilter & { limit: number; cursor?: string; order?: 'asc' | 'desc' }): Promise<Page<Job>> {
    const values: unknown[] = [];
    const where = this.jobWhere(params, values);
    const limit = Math.max(1, Math.min(1000, Math.floor(params.limit)));
    values.push(limit + 1);
    const sql = `SELECT * FROM jobs ${where} ORDER BY id ${(params.order ?? 'asc') === 'asc' ? 'ASC' : 'DESC'} LIMIT $${values.length}`;
    const rows = (await this.pool.query<Row>(sql, values)).rows.map((r) => publicJob(jobFromRow(r)));
    return this.page(rows, limit);
  }

  async listJobSummaries(
    params: JobFilter & { limit: number; cursor?: string; offset?: number; order?: 'asc' | 'desc'; headChars: number },
  ): Promise<Page<JobSummary>> {
    const values: unknown[] = [Math.max(0, Math.floor(params.headChars))]; // $1 of SUMMARY_COLS
    const where = this.jobWhere(params, values);
    const limit = Math.max(1, Math.min(1000, Math.floor(params.limit)));
    values.push(limit + 1);
    const offset = params.offset !== undefined && params.cursor === undefined ? Math.max(0, Math.floor(params.offset)) : 0;
    values.push(offset);
    const sql = `SELECT ${Q.SUMMARY_COLS} FROM jobs ${where}
      ORDER BY id ${(params.order ?? 'asc') === 'asc' ? 'ASC' : 'DESC'} LIMIT $${values.length - 1} OFFSET $${values.length}`;
    const rows = (await this.pool.query<Row>(sql, values)).rows.map(summaryFromRow);
    return this.page(rows, limit);
  }

  async getStepSnapshot(stepId: number): Promise<StepSnapshot | null> {
    const [r] = await this.read('STEP_SNAPSHOTS', [[stepId]]);
    return r ? stepSnapshotFromRow(r) : null;
  }

  async getManagerSnapshot(managerId: number): Promise<ManagerSnapshot | null> {
    const [r] = await this.read('MANAGER_SNAPSHOTS', [[managerId]]);
    return r ? managerSnapshotFromRow(r) : null;
  }

  async getProgress(id: number): Promise<Counts | null> {
    const [job] = await this.read('GET_JOB', [id]);
    if (!job) return null;
    if (job.kind === 'worker') {
      const parts: Partial<Record<JobStatus, number>> = {};
      for (const r of await this.read('SUBTREE_COUNTS', [id])) parts[r.status as JobStatus] = Number(r.n);
      return countsFrom(parts);
    }
    const [r] = await this.read('GET_COUNTERS', ['w', [id]]);
    return countsFromRow(r);
  }

  async getStats(): Promise<{ runs: Counts; jobs: Counts }> {
    const rows = await this.read('STATS');
    return {
      runs: countsFromRow(rows.find((r) => r.scope === 'm')),
      jobs: countsFromRow(rows.find((r) => r.scope === 'w')),
    };
  }

  async listRetries(jobId: number): Promise<Array<{ at: number; fromStatus: JobStatus; attempt: number }>> {
    return (await this.read('LIST_RETRIES', [jobId])).map((r) => ({
      at: Number(r.at),
      fromStatus: r.from_status as JobStatus,
      attempt: Number(r.attempt),
    }));
  }

  // ---- logs ----------------------------------------------------------------------------------

  async appendLogs(lines: NewLogLine[]): Promise<LogLine[]> {
    if (lines.length === 0) return [];
    const rows = await this.read('INSERT_LOGS', [
      lines.map((l) => l.jobId),
      lines.map((l) => l.stepId),
      lines.map((l) => l.managerId),
      lines.map((l) => l.level),
      lines.map((l) => pgText(l.message)),
      lines.map((l) => l.at),
    ]);
    // Identities are drawn in input order, so the sorted ids line up with the lines.
    const ids = rows.map((r) => Number(r.id)).sort((a, b) => a - b);
    return lines.map((line, i) => ({ ...line, id: ids[i]! }));
  }

  async listLogs(filter: LogFilter): Promise<Page<LogLine>> {
    const [job] = await this.read('GET_JOB', [filter.jobId]);
    if (!job) throw new StepqError('ERR_JOB_NOT_FOUND', `Job ${filter.jobId} does not exist.`, { id: filter.jobId });
    const values: unknown[] = [filter.jobId];
    const where = [job.kind === 'manager' ? 'manager_id = $1' : job.kind === 'step' ? 'step_id = $1' : 'job_id = $1'];
    const param = (v: unknown): string => {
      values.push(v);
      return `$${values.length}`;
    };
    if (filter.level) where.push(`level = ANY(${param(LOG_LEVELS.slice(LOG_LEVELS.indexOf(filter.level)))}::text[])`);
    const order = filter.order ?? 'asc';
    if (filter.cursor !== undefined) {
      const after = decodeCursor(filter.cursor);
      if (after === null) throw new StepqError('ERR_BAD_CURSOR', 'The cursor is not one this server issued.', { cursor: filter.cursor });
      where.push(order === 'asc' ? `id > ${param(after)}` : `id < ${param(after)}`);
    }
    const limit = Math.max(1, Math.min(5000, Math.floor(filter.limit)));
    const sql = `SELECT * FROM logs WHERE ${where.join(' AND ')} ORDER BY id ${order === 'asc' ? 'ASC' : 'DESC'} LIMIT ${param(limit + 1)}`;
    const rows = (await this.pool.query<Row>(sql, values)).rows.map(logFromRow);
    const more = rows.length > limit;
    const data = more ? rows.slice(0, limit) : rows;
    return { data, nextCursor: more ? encodeCursor(data[data.length - 1]!.id) : null };
  }

  // ---- definitions and schedules --------------------------------------------------------------

  async saveDefinition(def: Omit<StoredDefinition, 'updatedAt'>): Promise<StoredDefinition> {
    const now = await this.now();
    await this.read('SAVE_DEFINITION', [def.id, pgText(def.name), pgText(def.source), def.format, def.file, now]);
    return { ...def, updatedAt: now };
  }

  async getDefinition(id: string): Promise<StoredDefinition | null> {
    const [r] = await this.read('GET_DEFINITION', [id]);
    return r ? definitionFromRow(r) : null;
  }

  async listDefinitions(): Promise<StoredDefinition[]> {
    return (await this.read('LIST_DEFINITIONS')).map(definitionFromRow);
  }

  deleteDefinition(id: string): Promise<boolean> {
    return this.write(async (_tx, client) => {
      await exec(client, 'DELETE_SCHEDULE', [id]);
      return (await exec(client, 'DELETE_DEFINITION', [id])) === 1;
    });
  }

  async advanceSchedule(params: { definitionId: string; expected: number | null; next: number }): Promise<boolean> {
    const client = this.pool as unknown as pg.ClientBase;
    if (params.expected === null) return (await exec(client, 'INSERT_SCHEDULE', [params.definitionId, params.next])) === 1;
    return (await exec(client, 'ADVANCE_SCHEDULE', [params.definitionId, params.expected, params.next])) === 1;
  }

  async getSchedule(definitionId: string): Promise<number | null> {
    const [r] = await this.read('GET_SCHEDULE', [definitionId]);
    return r ? Number(r.next_at) : null;
  }
}
