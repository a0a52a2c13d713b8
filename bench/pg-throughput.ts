/**
 * Claim + acknowledge throughput of the PostgreSQL store on no-op worker jobs: jobs queued first,
 * then drained (as the peers' figures are), by one process and by several `stepq worker` processes.
 * The rate is jobs / (last finished_at - first started_at), both from the database clock.
 *
 *   eval "$(scripts/pg-test-server.sh start)"
 *   npx tsx bench/pg-throughput.ts [jobs=20000] [concurrency=50] [processes=3]
 *
 * Uses $STEPQ_BENCH_PG_URL (else $STEPQ_TEST_PG_URL); each case runs on a database of its own,
 * dropped afterwards. Prints one line per case and the server's durability settings.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { pino } from 'pino';
import { createStepq } from '../src/engine/engine.js';
import { PostgresStore } from '../src/store/postgres/postgres-store.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const BASE = process.env.STEPQ_BENCH_PG_URL ?? process.env.STEPQ_TEST_PG_URL;

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: BASE });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

async function withDatabase<T>(fn: (url: string) => Promise<T>): Promise<T> {
  const name = `stepq_bench_${randomBytes(4).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE "${name}"`));
  const u = new URL(BASE!);
  u.pathname = `/${name}`;
  try {
    return await fn(u.toString());
  } finally {
    await admin((c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
  }
}

/** Queues `jobs` no-op synthetic worker jobs under one step, through the store (no workers run). */
async function enqueue(url: string, jobs: number): Promise<{ managerId: number; ms: number }> {
  const store = new PostgresStore({ connectionString: url });
  await store.migrate();
  try {
    const t0 = performance.now();
    const { manager, steps } = await store.createRun({
      definitionId: 'bench',
      name: 'bench',
      params: {},
      definition: {},
      timeoutMs: null,
      steps: [
        {
          name: 'noop',
          type: 'synthetic',
          dependsOn: [],
          policy: {
            onError: 'fail',
            maxFailures: { kind: 'count', value: 0 },
            maxAttempts: 2,
            backoff: { type: 'none', baseMs: 0, maxMs: 0 },
            timeoutMs: null,
            concurrency: null,
            priority: 0,
          },
          config: { count: jobs, duration_ms: 0, failure_rate: 0, spawn: 0, spawn_depth: 0, payload_bytes: 0 },
        },
      ],
    });
    const stepId = steps[0]!.id;
    const { jobs: claimed } = await store.claim({ owner: 'bench-planner', limit: 1, leaseMs: 600_000 });
    const step = claimed.find((j) => j.id === stepId)!;
    for (let i = 0; i < jobs; i += 2000) {
      const n = Math.min(2000, jobs - i);
      await store.enqueueMany({
        stepId,
        parentId: stepId,
        token: step.leaseToken,
        jobs: Array.from({ length: n }, (_, k) => ({
          key: String(i + k),
          name: `noop #${i + k}`,
          payload: { path: String(i + k), gen: 0 },
        })),
        seq: i,
      });
    }
    await store.markPlanned({ stepId, token: step.leaseToken, planned: jobs });
    return { managerId: manager.id, ms: performance.now() - t0 };
  } finally {
    await store.close();
  }
}

/** The processing window of the run's worker jobs, from the database. */
async function measure(url: string, managerId: number, jobs: number): Promise<{ jobsPerSec: number; ms: number }> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const { rows } = await c.query<{ n: string; first: string; last: string }>(
      `SELECT count(*) FILTER (WHERE status = 'completed') AS n, min(started_at) AS first, max(finished_at) AS last
       FROM jobs WHERE manager_id = $1 AND kind = 'worker'`,
      [managerId],
    );
    const r = rows[0]!;
    if (Number(r.n) !== jobs) throw new Error(`expected ${jobs} completed jobs, found ${r.n}`);
    const ms = Number(r.last) - Number(r.first);
    return { jobsPerSec: Math.round((jobs / ms) * 1000), ms };
  } finally {
    await c.end();
  }
}

async function waitForRun(url: string, managerId: number, timeoutMs: number): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const { rows } = await c.query<{ status: string }>('SELECT status FROM jobs WHERE id = $1', [managerId]);
      if (rows[0]?.status !== 'running') return;
      if (Date.now() > end) throw new Error('the run did not end in time');
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await c.end();
  }
}

export async function oneProcess(jobs: number, concurrency: number): Promise<{ jobsPerSec: number; ms: number; enqueueMs: number }> {
  return withDatabase(async (url) => {
    const { managerId, ms: enqueueMs } = await enqueue(url, jobs);
    const engine = await createStepq({ store: url, concurrency, batchSize: concurrency, logger: pino({ level: 'silent' }) });
    try {
      engine.start();
      await engine.waitForRun(managerId, { pollMs: 100 });
    } finally {
      await engine.stop();
    }
    return { ...(await measure(url, managerId, jobs)), enqueueMs };
  });
}

export async function workerProcesses(
  jobs: number,
  processes: number,
  concurrencyEach: number,
): Promise<{ jobsPerSec: number; ms: number }> {
  return withDatabase(async (url) => {
    const { managerId } = await enqueue(url, jobs);
    const children: ChildProcess[] = [];
    try {
      for (let i = 0; i < processes; i++) {
        children.push(
          spawn(
            process.execPath,
            ['--import', 'tsx', 'src/cli/main.ts', 'worker', '--store', url, '-c', String(concurrencyEach), '--log-level', 'warn'],
            {
              cwd: ROOT,
              stdio: ['ignore', 'ignore', 'inherit'],
            },
          ),
        );
      }
      await waitForRun(url, managerId, 300_000);
    } finally {
      for (const c of children) c.kill('SIGTERM');
      await Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r)))));
    }
    return measure(url, managerId, jobs);
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (!BASE) {
    console.error('Set STEPQ_BENCH_PG_URL or STEPQ_TEST_PG_URL (scripts/pg-test-server.sh start prints one).');
    process.exit(2);
  }
  const jobs = Number(process.argv[2] ?? 20_000);
  const concurrency = Number(process.argv[3] ?? 50);
  const processes = Number(process.argv[4] ?? 3);
  const settings = await admin(async (c) => {
    const { rows } = await c.query<{ name: string; setting: string }>(
      `SELECT name, setting FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'shared_buffers', 'server_version')`,
    );
    return rows.map((r) => `${r.name}=${r.setting}`).join(' ');
  });
  console.log(`PostgreSQL ${settings}; ${cpus().length} CPUs; ${jobs} no-op jobs queued first, then drained`);
  const one = await oneProcess(jobs, concurrency);
  console.log(
    `stepq (PostgreSQL, 1 process, concurrency ${concurrency}): ${one.jobsPerSec} jobs/s (${one.ms} ms; enqueue ${Math.round(one.enqueueMs)} ms)`,
  );
  const each = Math.ceil(concurrency / processes);
  const split = await workerProcesses(jobs, processes, each);
  console.log(`stepq (PostgreSQL, ${processes} worker processes x concurrency ${each}): ${split.jobsPerSec} jobs/s (${split.ms} ms)`);
  const full = await workerProcesses(jobs, processes, concurrency);
  console.log(`stepq (PostgreSQL, ${processes} worker processes x concurrency ${concurrency}): ${full.jobsPerSec} jobs/s (${full.ms} ms)`);
}
