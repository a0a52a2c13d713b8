/**
 * /api/jobs: lists (keyset pages), one job, its progress, logs and full values, and the actions
 * (cancel, retry, rerun, delete), each answering with what actually happened.
 */
import type { FastifyInstance } from 'fastify';
import type { z } from 'zod';
import { StepqError } from '../../core/errors.js';
import { isJobStatus, type Job, type JobStatus } from '../../core/job.js';
import { countsFrom } from '../../core/progress.js';
import type { Stepq } from '../../engine/engine.js';
import type { JobFilter } from '../../store/store.js';
import type { WireJob, WireProgress } from '../../wire/api.js';
import {
  Affected,
  Deleted,
  IdParams,
  JobDetail,
  JobsQuery,
  LogLine,
  LogsQuery,
  Progress,
  Started,
  Job as JobSchema,
  json,
  pageOf,
  withErrors,
} from '../schemas.js';
import {
  DETAIL_PREVIEW_CHARS,
  LIST_PREVIEW_CHARS,
  wireCounts,
  wireJob,
  wireJobSummary,
  wireLog,
  wireRunProgress,
  wireStepProgress,
} from '../wire-mappers.js';

async function progressOf(engine: Stepq, id: number, kind: Job['kind']): Promise<WireProgress | undefined> {
  if (kind === 'manager') {
    const p = await engine.runProgress(id);
    return p ? wireRunProgress(p) : undefined;
  }
  if (kind === 'step') {
    const p = await engine.stepProgress(id);
    return p ? wireStepProgress(p) : undefined;
  }
  return undefined;
}

async function requireJob(engine: Stepq, idText: string): Promise<Job> {
  const job = await engine.getJob(Number(idText));
  if (!job) throw new StepqError('ERR_JOB_NOT_FOUND', `Job ${idText} does not exist.`, { id: Number(idText) });
  return job;
}

export async function jobRoutes(app: FastifyInstance, opts: { engine: Stepq }): Promise<void> {
  const { engine } = opts;
  const idParams = json(IdParams, 'input');

  app.get(
    '/api/jobs',
    {
      schema: {
        summary: "List jobs (keyset pages): runs with parent_id=root, a step's workers with step_id",
        querystring: json(JobsQuery, 'input'),
        response: withErrors({ 200: pageOf(JobSchema) }),
      },
    },
    async (request) => {
      const q = request.query as z.infer<typeof JobsQuery>;
      const filter: JobFilter = {};
      if (q.parent_id === 'root') filter.parentId = null;
      else if (q.parent_id !== undefined) filter.parentId = Number(q.parent_id);
      if (q.step_id !== undefined) filter.stepId = Number(q.step_id);
      if (q.manager_id !== undefined) filter.managerId = Number(q.manager_id);
      if (q.kind !== undefined) filter.kind = q.kind;
      if (q.status !== undefined) filter.status = q.status.split(',').filter(isJobStatus) as JobStatus[];
      if (q.q) filter.q = q.q;
      if (q.definition_id) filter.definitionId = q.definition_id;
      // Runs read newest first; a step's jobs in the order they were created.
      const order = q.order ?? (filter.parentId === null ? 'desc' : 'asc');
      const page = await engine.listJobSummaries({
        ...filter,
        limit: q.limit ?? 50,
        order,
        headChars: LIST_PREVIEW_CHARS,
        ...(q.cursor ? { cursor: q.cursor } : q.offset !== undefined ? { offset: q.offset } : {}),
      });
      const data: WireJob[] = [];
      for (const job of page.data) {
        const progress = job.kind === 'worker' ? undefined : await progressOf(engine, job.id, job.kind);
        data.push(wireJobSummary(job, { previewChars: LIST_PREVIEW_CHARS, ...(progress ? { progress } : {}) }));
      }
      return { data, next_cursor: page.nextCursor };
    },
  );

  app.get(
    '/api/jobs/:id',
    { schema: { summary: 'One job, with progress for runs and steps', params: idParams, response: withErrors({ 200: JobDetail }) } },
    async (request) => {
      const job = await requireJob(engine, (request.params as { id: string }).id);
      const progress = await progressOf(engine, job.id, job.kind);
      const retries = await engine.listRetries(job.id);
      return {
        ...wireJob(job, { previewChars: DETAIL_PREVIEW_CHARS, ...(progress ? { progress } : {}) }),
        retries: retries.map((r) => ({ at: r.at, from_status: r.fromStatus, attempt: r.attempt })),
      };
    },
  );

  for (const field of ['payload', 'result', 'error'] as const) {
    app.get(
      `/api/jobs/:id/${field}`,
      { schema: { summary: `The full ${field} of a job (lists and details carry a preview)`, params: idParams } },
      async (request, reply) => {
        const job = await requireJob(engine, (request.params as { id: string }).id);
        const value = field === 'payload' ? job.payload : field === 'result' ? job.result : job.error;
        void reply.type('application/json');
        return JSON.stringify(value ?? null);
      },
    );
  }

  app.get(
    '/api/jobs/:id/progress',
    {
      schema: {
        summary: 'Progress: a run or step from counters; a worker job counts its subtree',
        params: idParams,
        response: withErrors({ 200: Progress }),
      },
    },
    async (request) => {
      const job = await requireJob(engine, (request.params as { id: string }).id);
      const progress = await progressOf(engine, job.id, job.kind);
      if (progress) return progress;
      const counts = (await engine.getProgress(job.id)) ?? countsFrom({});
      return {
        status: job.status,
        counts: wireCounts(counts),
        rate_per_sec: 0,
        eta_ms: null,
        started_at: job.startedAt,
        finished_at: job.finishedAt,
        at: Date.now(),
      };
    },
  );

  app.get(
    '/api/jobs/:id/logs',
    {
      schema: {
        summary: 'Log lines of a job; of a run or step: all its descendants, merged in order',
        params: idParams,
        querystring: json(LogsQuery, 'input'),
        response: withErrors({ 200: pageOf(LogLine) }),
      },
    },
    async (request) => {
      const { id } = request.params as { id: string };
      const q = request.query as z.infer<typeof LogsQuery>;
      const page = await engine.listLogs({
        jobId: Number(id),
        limit: q.limit ?? 200,
        ...(q.level ? { level: q.level } : {}),
        ...(q.cursor ? { cursor: q.cursor } : {}),
        ...(q.order ? { order: q.order } : {}),
      });
      return { data: page.data.map(wireLog), next_cursor: page.nextCursor };
    },
  );

  app.post(
    '/api/jobs/:id/cancel',
    {
      schema: {
        summary: 'Cancel a job and everything under it that has not ended',
        params: idParams,
        response: withErrors({ 200: Affected }),
      },
    },
    async (request) => {
      const job = await requireJob(engine, (request.params as { id: string }).id);
      return engine.cancel(job.id);
    },
  );

  app.post(
    '/api/jobs/:id/retry',
    {
      schema: {
        summary: 'Retry the failed jobs under a run, a step, or one job',
        params: idParams,
        response: withErrors({ 200: Affected }),
      },
    },
    async (request) => {
      const job = await requireJob(engine, (request.params as { id: string }).id);
      return engine.retry(job.id);
    },
  );

  app.post(
    '/api/jobs/:id/rerun',
    {
      schema: {
        summary: 'Run the definition of a run again, with the same params',
        params: idParams,
        response: withErrors({ 202: Started }),
      },
    },
    async (request, reply) => {
      const job = await requireJob(engine, (request.params as { id: string }).id);
      if (job.kind !== 'manager') throw new StepqError('ERR_BAD_REQUEST', `Job ${job.id} is a ${job.kind}; only runs can be run again.`);
      const started = await engine.rerun(job.id);
      void reply.status(202);
      return { manager_id: started.managerId };
    },
  );

  app.delete(
    '/api/jobs/:id',
    { schema: { summary: 'Delete a finished run with all its jobs and logs', params: idParams, response: withErrors({ 200: Deleted }) } },
    async (request) => {
      const job = await requireJob(engine, (request.params as { id: string }).id);
      if (job.kind !== 'manager') {
        throw new StepqError(
          'ERR_BAD_REQUEST',
          `Job ${job.id} is a ${job.kind}; only whole runs are deleted (DELETE the run ${job.managerId}).`,
        );
      }
      const r = await engine.deleteRun(job.id);
      return { affected: r };
    },
  );
}
