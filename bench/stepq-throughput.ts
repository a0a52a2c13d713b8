/**
 * stepq's own throughput on no-op worker jobs (SQLite, one process): the figure the peers are
 * compared against. Usage: tsx bench/stepq-throughput.ts [jobs=20000] [concurrency=50]
 */
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { createStepq } from '../src/engine/engine.js';

export async function stepqThroughput(params: {
  jobs: number;
  concurrency: number;
  batchSize?: number;
  /** Default: a SQLite file in a temp folder. */
  store?: string;
}): Promise<{ jobsPerSec: number; ms: number; cpuUsPerJob: number }> {
  const dir = join(tmpdir(), `stepq-bench-${process.pid}-${Date.now()}`);
  const engine = await createStepq({
    store: params.store ?? `sqlite:${join(dir, 'bench.db')}`,
    concurrency: params.concurrency,
    batchSize: params.batchSize ?? params.concurrency,
    logger: pino({ level: 'silent' }),
  });
  try {
    const source = ['id = "bench"', 'name = "bench"', '[step.noop]', 'type = "synthetic"', `count = ${params.jobs}`, 'retries = 1'].join(
      '\n',
    );
    // Plan first, then time only the processing, like the peers' figures (jobs queued, then drained).
    const started = await engine.startRun({ definition: { source } });
    engine.start();
    await new Promise<void>((resolve) => {
      const off = engine.bus.on('step_progress', (p) => {
        if (p.counts.total === params.jobs) {
          off();
          resolve();
        }
      });
    });
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const outcome = await engine.waitForRun(started.managerId, { pollMs: 50 });
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    if (outcome.manager.counts.completed !== params.jobs)
      throw new Error(`expected ${params.jobs} completed, got ${JSON.stringify(outcome.manager.counts)}`);
    // CPU per job is steadier than wall time on a shared machine (another process's load moves the
    // second, not the first).
    return {
      jobsPerSec: Math.round((params.jobs / ms) * 1000),
      ms: Math.round(ms),
      cpuUsPerJob: Math.round((cpu.user + cpu.system) / params.jobs),
    };
  } finally {
    await engine.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const jobs = Number(process.argv[2] ?? 20_000);
  const concurrency = Number(process.argv[3] ?? 50);
  const r = await stepqThroughput({ jobs, concurrency });
  console.log(
    `stepq (SQLite, 1 process): ${jobs} no-op jobs, concurrency ${concurrency}: ${r.jobsPerSec} jobs/s (${r.ms} ms, ${r.cpuUsPerJob} µs CPU per job)`,
  );
}
