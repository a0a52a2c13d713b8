/**
 * Peer queues measured the same way as stepq (jobs queued first, then drained by no-op handlers at
 * a given concurrency; the clock runs from the first worker start to the last completion), so the
 * ratios printed by run-all.ts compare like with like on this machine, in this run.
 */
import pg from 'pg';

export interface Figure {
  jobsPerSec: number;
  ms: number;
}

function figure(jobs: number, ms: number): Figure {
  return { jobsPerSec: Math.round((jobs / ms) * 1000), ms: Math.round(ms) };
}

/** A fresh database on the server at `url` for one peer run; dropped by the returned function. */
export async function freshDatabase(url: string, name: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${name}`);
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const u = new URL(url);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** BullMQ 6 on Redis: addBulk, then one Worker with `concurrency`. */
export async function bullmq(params: { redisPort: number; jobs: number; concurrency: number }): Promise<Figure> {
  const { Queue, Worker } = await import('bullmq');
  const connection = { host: '127.0.0.1', port: params.redisPort, maxRetriesPerRequest: null };
  const name = `bench-${Date.now()}`;
  const queue = new Queue(name, { connection });
  try {
    for (let i = 0; i < params.jobs; i += 1000) {
      await queue.addBulk(
        Array.from({ length: Math.min(1000, params.jobs - i) }, (_, k) => ({
          name: 'noop',
          data: { i: i + k },
          opts: { removeOnComplete: true },
        })),
      );
    }
    let done = 0;
    const t0 = performance.now();
    let finish: () => void = () => undefined;
    const finished = new Promise<void>((r) => (finish = r));
    const worker = new Worker(
      name,
      async () => {
        done += 1;
        if (done === params.jobs) finish();
        return null;
      },
      { connection, concurrency: params.concurrency },
    );
    await finished;
    const ms = performance.now() - t0;
    await worker.close();
    return figure(params.jobs, ms);
  } finally {
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
  }
}

/** Graphile Worker 0.17: addJobs in bulk, then `run` with `concurrency` (default or tuned settings). */
export async function graphile(params: { pgUrl: string; jobs: number; concurrency: number; tuned: boolean }): Promise<Figure> {
  const { makeWorkerUtils, run } = await import('graphile-worker');
  const db = await freshDatabase(params.pgUrl, `bench_graphile_${process.pid}_${params.tuned ? 't' : 'd'}`);
  const silent = (await import('graphile-worker')).Logger;
  const logger = new silent(() => () => undefined);
  // Our own pool, ended before the database is dropped (a pool left open would crash on the drop).
  const pgPool = new pg.Pool({ connectionString: db.url, max: params.concurrency + 5 });
  pgPool.on('error', () => undefined);
  pgPool.on('connect', (client) => client.on('error', () => undefined));
  try {
    const utils = await makeWorkerUtils({ pgPool, logger });
    await utils.migrate();
    for (let i = 0; i < params.jobs; i += 1000) {
      await utils.addJobs(
        Array.from({ length: Math.min(1000, params.jobs - i) }, (_, k) => ({ identifier: 'noop', payload: { i: i + k } })),
      );
    }
    await utils.release();
    let done = 0;
    let finish: () => void = () => undefined;
    const finished = new Promise<void>((r) => (finish = r));
    const t0 = performance.now();
    const runner = await run({
      pgPool,
      concurrency: params.concurrency,
      noHandleSignals: true,
      pollInterval: 1000,
      logger,
      taskList: {
        noop: async () => {
          done += 1;
          if (done === params.jobs) finish();
        },
      },
      ...(params.tuned ? { preset: { worker: { localQueue: { size: 500 }, completeJobBatchDelay: 0 } } } : {}),
    });
    await finished;
    const ms = performance.now() - t0;
    await runner.stop();
    return figure(params.jobs, ms);
  } finally {
    await pgPool.end().catch(() => undefined);
    await db.drop();
  }
}

/** pg-boss 10: insert in bulk, then `workers` workers fetching `batch` jobs at a time. */
export async function pgBoss(params: { pgUrl: string; jobs: number; workers: number; batch: number }): Promise<Figure> {
  const PgBoss = (await import('pg-boss')).default;
  const db = await freshDatabase(params.pgUrl, `bench_pgboss_${process.pid}`);
  const boss = new PgBoss({ connectionString: db.url, supervise: false, schedule: false, max: params.workers + 4 });
  boss.on('error', () => undefined);
  try {
    await boss.start();
    const name = 'noop';
    await boss.createQueue(name);
    for (let i = 0; i < params.jobs; i += 1000) {
      await boss.insert(Array.from({ length: Math.min(1000, params.jobs - i) }, (_, k) => ({ name, data: { i: i + k } })));
    }
    let done = 0;
    let finish: () => void = () => undefined;
    const finished = new Promise<void>((r) => (finish = r));
    const t0 = performance.now();
    for (let w = 0; w < params.workers; w++) {
      await boss.work(name, { batchSize: params.batch, pollingIntervalSeconds: 0.5 }, async (jobs) => {
        done += jobs.length;
        if (done >= params.jobs) finish();
      });
    }
    await finished;
    const ms = performance.now() - t0;
    return figure(params.jobs, ms);
  } finally {
    await boss.stop({ graceful: false, wait: true }).catch(() => undefined);
    await db.drop();
  }
}
