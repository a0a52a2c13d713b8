/**
 * Throughput of stepq and its peers on this machine, in this run: 20,000 no-op jobs queued, then
 * drained at concurrency 50. Starts a throwaway Redis and PostgreSQL on 127.0.0.1 when they are
 * installed (apt-get install redis-server postgresql); a peer whose server is missing is reported as
 * skipped. Usage: npm run bench [-- jobs=20000 concurrency=50]
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bullmq, freshDatabase, graphile, pgBoss, type Figure } from './peers.js';
import { stepqThroughput } from './stepq-throughput.js';
import { freePort } from '../test/helpers/ports.js';

const args = Object.fromEntries(process.argv.slice(2).map((a) => a.split('=') as [string, string]));
const JOBS = Number(args.jobs ?? 20_000);
const CONCURRENCY = Number(args.concurrency ?? 50);

async function startRedis(): Promise<{ port: number; stop: () => void } | null> {
  if (!existsSync('/usr/bin/redis-server')) return null;
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'stepq-redis-'));
  const child: ChildProcess = spawn(
    'redis-server',
    ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no', '--dir', dir],
    { stdio: 'ignore' },
  );
  for (let i = 0; i < 100; i++) {
    try {
      execFileSync('redis-cli', ['-p', String(port), 'ping'], { stdio: 'pipe' });
      return { port, stop: () => (child.kill('SIGTERM'), rmSync(dir, { recursive: true, force: true })) };
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  child.kill('SIGKILL');
  return null;
}

function startPostgres(): { url: string; stop: () => void } | null {
  if (process.env.STEPQ_TEST_PG_URL) return { url: process.env.STEPQ_TEST_PG_URL, stop: () => undefined };
  try {
    const out = execFileSync('bash', ['scripts/pg-test-server.sh', 'start'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      env: { ...process.env, STEPQ_PG_STATE: '/tmp/stepq-pg-bench.env' },
    });
    const url = /STEPQ_TEST_PG_URL=(\S+)/.exec(out)?.[1];
    if (!url) return null;
    return {
      url,
      stop: () =>
        execFileSync('bash', ['scripts/pg-test-server.sh', 'stop'], {
          stdio: 'ignore',
          env: { ...process.env, STEPQ_PG_STATE: '/tmp/stepq-pg-bench.env' },
        }),
    };
  } catch {
    return null;
  }
}

async function measure(name: string, fn: () => Promise<Figure>): Promise<{ name: string; figure: Figure | null; note?: string }> {
  try {
    const figure = await fn();
    console.error(`  ${name}: ${figure.jobsPerSec} jobs/s`);
    return { name, figure };
  } catch (err) {
    console.error(`  ${name}: failed: ${(err as Error).message}`);
    return { name, figure: null, note: (err as Error).message };
  }
}

const redis = await startRedis();
const postgres = startPostgres();
console.error(
  `stepq benchmark: ${JOBS} no-op jobs, concurrency ${CONCURRENCY}; redis ${redis ? 'yes' : 'missing'}, postgres ${postgres ? 'yes' : 'missing'}`,
);
const rows: Array<{ name: string; figure: Figure | null; note?: string }> = [];
try {
  rows.push(await measure('stepq, SQLite (embedded)', () => stepqThroughput({ jobs: JOBS, concurrency: CONCURRENCY })));
  if (postgres) {
    rows.push(
      await measure('stepq, PostgreSQL (1 process)', async () => {
        const db = await freshDatabase(postgres.url, `bench_stepq_${process.pid}`);
        try {
          return await stepqThroughput({ jobs: JOBS, concurrency: CONCURRENCY, store: db.url });
        } finally {
          await db.drop();
        }
      }),
    );
  }
  if (redis) rows.push(await measure('BullMQ 6 + Redis', () => bullmq({ redisPort: redis.port, jobs: JOBS, concurrency: CONCURRENCY })));
  if (postgres) {
    rows.push(
      await measure('Graphile Worker 0.17, defaults', () =>
        graphile({ pgUrl: postgres.url, jobs: JOBS, concurrency: CONCURRENCY, tuned: false }),
      ),
    );
    rows.push(
      await measure('Graphile Worker 0.17, localQueue 500', () =>
        graphile({ pgUrl: postgres.url, jobs: JOBS, concurrency: CONCURRENCY, tuned: true }),
      ),
    );
    rows.push(
      await measure('pg-boss 10, 4 workers x batch 1000', () => pgBoss({ pgUrl: postgres.url, jobs: JOBS, workers: 4, batch: 1000 })),
    );
  }
} finally {
  redis?.stop();
  postgres?.stop();
}

const base = rows[0]?.figure?.jobsPerSec ?? 0;
console.log(`\n${JOBS.toLocaleString('en-US')} no-op jobs, concurrency ${CONCURRENCY}, one run each, this machine:\n`);
console.log(`| system | jobs/s | stepq SQLite ÷ this |`);
console.log(`|---|---:|---:|`);
for (const r of rows) {
  const v = r.figure ? r.figure.jobsPerSec.toLocaleString('en-US') : `skipped (${r.note ?? 'not available'})`;
  const ratio = r.figure && base ? (base / r.figure.jobsPerSec).toFixed(2) : '—';
  console.log(`| ${r.name} | ${v} | ${ratio} |`);
}
process.exit(0);
