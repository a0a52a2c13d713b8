/**
 * `stepq jobs …`: look at and act on runs and jobs in a store from the shell (no server needed).
 * Actions print what actually happened, like the API.
 */
import { redactStoreUrl } from '../engine/store-url.js';
import { pino } from 'pino';
import { errorMessage, StepqError } from '../core/errors.js';
import { isJobStatus, type Job, type JobStatus } from '../core/job.js';
import { createStepq, type Stepq } from '../engine/engine.js';
import { countsLine, formatMs, safeText, storeRunners } from './format.js';
import type { Io } from './run.js';
import { storeFileProblem } from './store-file.js';

export interface StoreOption {
  store: string;
  json?: boolean;
}

/**
 * Opens the store without starting workers; prints store errors plainly. A SQLite store must exist
 * already unless `mayCreate` (commands that only read or act on what it holds would otherwise
 * create an empty one at a mistyped path).
 */
export async function withEngine(
  opts: StoreOption & { mayCreate?: boolean },
  io: Io,
  fn: (engine: Stepq) => Promise<number>,
): Promise<number> {
  const problem = storeFileProblem(opts.store, opts.mayCreate ? 'create' : 'existing');
  if (problem) {
    io.err.write(`stepq: ${problem}\n`);
    return 2;
  }
  let engine: Stepq;
  try {
    engine = await createStepq({ store: opts.store, logger: pino({ level: 'silent' }) });
  } catch (err) {
    io.err.write(`stepq: cannot open the store ${redactStoreUrl(opts.store)}: ${errorMessage(err)}\n`);
    return 2;
  }
  try {
    return await fn(engine);
  } catch (err) {
    if (err instanceof StepqError) {
      io.err.write(`stepq: ${err.code}: ${err.message}\n`);

      return err.httpStatus === 404 || err.httpStatus === 400 ? 2 : 1;
    }
    throw err;
  } finally {
    await engine.stop();
  }
}

function parseId(text: string): number {
  const id = Number(text);
  if (!Number.isSafeInteger(id) || id < 1) throw new StepqError('ERR_BAD_REQUEST', `"${text}" is not a job id.`);
  return id;
}

function duration(j: Job): string {
  return j.startedAt ? formatMs((j.finishedAt ?? Date.now()) - j.startedAt) : '—';
}

function line(j: Job, extra = ''): string {
  const when = new Date(j.createdAt).toISOString().replace('T', ' ').slice(0, 19);
  return `${String(j.id).padStart(7)}  ${j.status.padEnd(9)}  ${j.kind.padEnd(7)}  ${when}  ${duration(j).padStart(7)}  ${safeText(j.name, 60)}${extra}`;
}

const KIND_NAME = { manager: 'run', step: 'step', worker: 'worker job' } as const;

/**
 * The job `--run`/`--step` names, which must be of that kind: a filter on a step's id as a run (or a
 * missing run) would list something else, or nothing, and exit 0.
 */
async function requireKind(engine: Stepq, idText: string, kind: 'manager' | 'step'): Promise<Job> {
  const job = await requireJob(engine, idText);
  if (job.kind !== kind) {
    const hint = job.kind === 'manager' ? ` (its steps: --run ${job.id})` : job.kind === 'step' ? ` (its jobs: --step ${job.id})` : '';
    throw new StepqError('ERR_BAD_REQUEST', `Job ${job.id} is a ${KIND_NAME[job.kind]}, not a ${KIND_NAME[kind]}${hint}.`);
  }
  return job;
}

async function requireJob(engine: Stepq, idText: string): Promise<Job> {
  const id = parseId(idText);
  const job = await engine.getJob(id);
  if (!job) throw new StepqError('ERR_JOB_NOT_FOUND', `Job ${id} does not exist.`, { id });
  return job;
}

/**
 * Up to `limit` items, fetched page after page: the store caps one page (1,000 jobs, 5,000 log
 * lines), and a larger --limit would otherwise stop there while saying "raise --limit".
 */
async function upTo<T>(
  limit: number,
  fetchPage: (limit: number, cursor: string | null) => Promise<{ data: T[]; nextCursor: string | null }>,
): Promise<{ data: T[]; nextCursor: string | null }> {
  const data: T[] = [];
  let cursor: string | null = null;
  do {
    const page = await fetchPage(limit - data.length, cursor);
    data.push(...page.data.slice(0, limit - data.length));
    cursor = page.nextCursor;
  } while (cursor !== null && data.length < limit);
  return { data, nextCursor: cursor };
}

export async function jobsList(
  opts: StoreOption & { run?: string; step?: string; status?: string; limit: number },
  io: Io,
): Promise<number> {
  return withEngine(opts, io, async (engine) => {
    const statuses = opts.status ? opts.status.split(',') : undefined;
    if (statuses?.some((s) => !isJobStatus(s)))
      throw new StepqError('ERR_BAD_REQUEST', `--status takes statuses separated by commas (pending,running,completed,failed,cancelled).`);
    const filter = opts.step
      ? { stepId: (await requireKind(engine, opts.step, 'step')).id }
      : opts.run
        ? { parentId: (await requireKind(engine, opts.run, 'manager')).id }
        : { parentId: null };
    const page = await upTo(opts.limit, (limit, cursor) =>
      engine.listJobs({
        ...filter,
        ...(statuses ? { status: statuses as JobStatus[] } : {}),
        limit,
        ...(cursor ? { cursor } : {}),
        order: 'parentId' in filter && filter.parentId === null ? 'desc' : 'asc',
      }),
    );
    if (opts.json) {
      io.out.write(`${JSON.stringify(page, null, 2)}\n`);
      return 0;
    }
    if (page.data.length === 0) io.err.write('No jobs.\n');
    for (const j of page.data) {
      let extra = '';
      if (j.kind !== 'worker') {
        const c = await engine.getProgress(j.id);
        if (c && c.total > 0) extra = `  (${countsLine(c)})`;
      } else if (j.error) extra = `  — ${safeText(j.error, 100)}`;
      io.out.write(`${line(j, extra)}\n`);
    }
    if (page.nextCursor) io.err.write(`… more: raise --limit (now ${opts.limit}).\n`);
    return 0;
  });
}

export async function jobsShow(id: string, opts: StoreOption, io: Io): Promise<number> {
  return withEngine(opts, io, async (engine) => {
    const job = await requireJob(engine, id);
    const progress =
      job.kind === 'manager' ? await engine.runProgress(job.id) : job.kind === 'step' ? await engine.stepProgress(job.id) : null;
    const retries = await engine.listRetries(job.id);
    if (opts.json) {
      io.out.write(`${JSON.stringify({ ...job, progress, retries }, null, 2)}\n`);
      return 0;
    }
    const show = (k: string, v: string): void => void io.out.write(`${k.padEnd(10)} ${v}\n`);
    show('job', `${job.id} (${job.kind}, type ${safeText(job.type)})`);
    show('name', safeText(job.name));
    show('status', `${job.status}, attempt ${job.attempt} of ${job.maxAttempts}`);
    if (job.parentId) show('parent', String(job.parentId));
    if (job.stepId) show('step', String(job.stepId));
    show('run', String(job.managerId));
    show('created', new Date(job.createdAt).toISOString());
    if (job.startedAt) show('started', new Date(job.startedAt).toISOString());
    if (job.finishedAt) show('finished', `${new Date(job.finishedAt).toISOString()} (${duration(job)})`);
    if (progress) show('progress', `${countsLine(progress.counts)}${progress.ratePerSec ? ` · ${progress.ratePerSec}/s` : ''}`);
    for (const r of retries) show('retried', `${new Date(r.at).toISOString()} from ${r.fromStatus}, attempt ${r.attempt}`);
    if (job.error) show('error', safeText(job.error, 2000));
    show('payload', safeText(JSON.stringify(job.payload), 2000));
    if (job.result !== null) show('result', safeText(JSON.stringify(job.result), 2000));
    return 0;
  });
}

export async function jobsLogs(id: string, opts: StoreOption & { level?: string; limit: number }, io: Io): Promise<number> {
  return withEngine(opts, io, async (engine) => {
    const level = opts.level as 'debug' | 'info' | 'warn' | 'error' | undefined;
    const jobId = parseId(id);
    const page = await upTo(opts.limit, (limit, cursor) =>
      engine.listLogs({ jobId, limit, order: 'desc', ...(level ? { level } : {}), ...(cursor ? { cursor } : {}) }),
    );
    const lines = [...page.data].reverse();
    if (opts.json) {
      io.out.write(`${JSON.stringify(lines, null, 2)}\n`);
      return 0;
    }
    for (const l of lines) {
      io.out.write(`${new Date(l.at).toISOString()}  ${l.level.padEnd(5)}  [${l.jobId}]  ${safeText(l.message, 4000)}\n`);
    }
    if (page.nextCursor) io.err.write(`(the newest ${opts.limit} lines; raise --limit for more)\n`);
    return 0;
  });
}

export async function jobsAction(action: 'cancel' | 'retry' | 'rerun' | 'delete', id: string, opts: StoreOption, io: Io): Promise<number> {
  return withEngine(opts, io, async (engine) => {
    const jobId = parseId(id);
    if (action === 'cancel') {
      const r = await engine.cancel(jobId);
      io.out.write(
        r.affected
          ? `Cancelled ${r.affected} job${r.affected === 1 ? '' : 's'}.\n`
          : `Nothing to cancel: job ${jobId} had already ended.\n`,
      );
    } else if (action === 'retry') {
      const r = await engine.retry(jobId);
      io.out.write(
        r.affected ? `Retried ${r.affected} job${r.affected === 1 ? '' : 's'}.\n` : `Nothing to retry: no failed jobs under ${jobId}.\n`,
      );
    } else if (action === 'rerun') {
      const job = await requireJob(engine, id);
      // The API's wording; the engine alone would say "Run 2 does not exist" of a step.
      if (job.kind !== 'manager') throw new StepqError('ERR_BAD_REQUEST', `Job ${job.id} is a ${job.kind}; only runs can be run again.`);
      const r = await engine.rerun(jobId);
      io.out.write(`Run ${r.managerId} started; ${storeRunners(engine.store)} on this store runs it.\n`);
    } else {
      const job = await requireJob(engine, id);
      if (job.kind !== 'manager') {
        throw new StepqError(
          'ERR_BAD_REQUEST',
          `Job ${job.id} is a ${job.kind}; only whole runs are deleted (\`stepq jobs delete ${job.managerId}\`).`,
        );
      }
      const r = await engine.deleteRun(jobId);
      io.out.write(`Deleted run ${jobId}: ${r.jobs} job${r.jobs === 1 ? '' : 's'} and ${r.logs} log line${r.logs === 1 ? '' : 's'}.\n`);
    }
    return 0;
  });
}
