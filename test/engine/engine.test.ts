/**
 * The engine end to end on a real store (a SQLite file; PostgreSQL too when STEPQ_TEST_PG_URL is
 * set): definitions in, runs out, every count exact.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineStepType } from '../../src/core/step-type.js';
import { syntheticFails } from '../../src/steps/synthetic.js';
import { engineSuiteName, engineTargets, testEngine, toml, type TestEngine } from '../helpers/engine.js';

let t: TestEngine | null = null;
afterEach(async () => {
  await t?.close();
  t = null;
});

async function counted(t: TestEngine, stepId: number): Promise<Record<string, number>> {
  const rows = await t.query(`SELECT status, count(*) AS n FROM jobs WHERE step_id = ? GROUP BY status`, [stepId]);
  return Object.fromEntries(rows.map((r) => [String(r.status), Number(r.n)]));
}

for (const target of engineTargets) {
  describe.skipIf(!!target.skipReason)(engineSuiteName('engine', target), () => {
    it('runs synthetic fan-out with spawning: count 1000, spawn 1, depth 2 makes 3000 worker jobs', async () => {
      t = await testEngine({ concurrency: 50 }, target);
      const run = await t.engine.run({
        definition: toml([
          'id = "fan"',
          'name = "Fan"',
          '[step.gen]',
          'type = "synthetic"',
          'count = 1000',
          'spawn = 1',
          'spawn_depth = 2',
        ]),
      });
      const outcome = await run.done;
      expect(outcome.manager.status).toBe('completed');
      expect(outcome.steps[0]!.counts).toMatchObject({
        completed: 3000,
        total: 3000,
        failed: 0,
        pending: 0,
        running: 0,
      });
      expect(outcome.manager.counts.completed).toBe(3000);
      expect(await counted(t, outcome.steps[0]!.stepId)).toEqual({
        completed: 3000,
      });
    });

    it('ends a step only after its deepest spawned job (depth ≥ 4)', async () => {
      t = await testEngine({ concurrency: 8 }, target);
      const run = await t.engine.run({
        definition: toml([
          'id = "deep"',
          'name = "Deep"',
          '[step.gen]',
          'type = "synthetic"',
          'count = 3',
          'spawn = 2',
          'spawn_depth = 4',
          'duration_ms = 2',
        ]),
      });
      const outcome = await run.done;
      const step = outcome.steps[0]!;
      // 3 planned, each with 2 + 4 + 8 + 16 descendants.
      expect(step.counts).toMatchObject({ completed: 3 * 31, total: 93 });
      const deepest = await t.engine.listJobs({
        stepId: step.stepId,
        limit: 1000,
      });
      const maxDepth = Math.max(...deepest.data.map((j) => j.depth));
      expect(maxDepth).toBe(2 + 4);
      const lastEnd = Math.max(...deepest.data.map((j) => j.finishedAt ?? 0));
      expect(step.finishedAt).toBeGreaterThanOrEqual(lastEnd);
    });

    it('runs independent steps in parallel and a dependent step only after both', async () => {
      t = await testEngine({ concurrency: 10 }, target);
      const run = await t.engine.run({
        definition: toml([
          'id = "dag"',
          'name = "Dag"',
          '[step.a]',
          'type = "synthetic"',
          'count = 20',
          'duration_ms = 20',
          '[step.b]',
          'type = "synthetic"',
          'count = 20',
          'duration_ms = 20',
          '[step.c]',
          'type = "synthetic"',
          'count = 5',
          'depends_on = ["a", "b"]',
        ]),
      });
      const outcome = await run.done;
      expect(outcome.manager.status).toBe('completed');
      const [a, b, c] = outcome.steps;
      expect(a!.startedAt!).toBeLessThan(b!.finishedAt!);
      expect(b!.startedAt!).toBeLessThan(a!.finishedAt!);
      expect(c!.startedAt!).toBeGreaterThanOrEqual(Math.max(a!.finishedAt!, b!.finishedAt!));
      const firstC = await t.engine.listJobs({
        stepId: c!.stepId,
        limit: 100,
      });
      const lastAB = [
        ...(await t.engine.listJobs({ stepId: a!.stepId, limit: 100 })).data,
        ...(await t.engine.listJobs({ stepId: b!.stepId, limit: 100 })).data,
      ];
      expect(Math.min(...firstC.data.map((j) => j.startedAt!))).toBeGreaterThanOrEqual(Math.max(...lastAB.map((j) => j.finishedAt!)));
    });

    it('fails a step past max_failures (count) and fails the run without starting the next step', async () => {
      t = await testEngine({ concurrency: 4 }, target);
      const rate = 0.2;
      const run = await t.engine.run({
        definition: toml([
          'id = "flaky"',
          'name = "Flaky"',
          '[step.gen]',
          'type = "synthetic"',
          'count = 200',
          `failure_rate = ${rate}`,
          'retries = 1',
          'max_failures = 3',
          'duration_ms = 1',
          '[step.after]',
          'type = "synthetic"',
          'count = 5',
          'depends_on = "gen"',
        ]),
      });
      const outcome = await run.done;
      expect(outcome.manager.status).toBe('failed');
      const [gen, after] = outcome.steps;
      expect(gen!.status).toBe('failed');
      expect(gen!.counts.failed).toBeGreaterThanOrEqual(4);
      expect(gen!.counts.cancelled).toBeGreaterThan(0);
      expect(gen!.counts.total).toBe(200);
      expect(after!.status).toBe('cancelled');
      expect(after!.counts.total).toBe(0);
    });

    it('tolerates failures within a percentage, and judges the percentage on the whole fan-out', async () => {
      t = await testEngine({ concurrency: 20 }, target);
      const count = 400;
      const rate = 0.05;
      const expectedFailures = Array.from({ length: count }, (_, i) => syntheticFails(String(i), rate)).filter(Boolean).length;
      const pct = ((expectedFailures / count) * 100).toFixed(2);
      const tolerant = await t.engine.run({
        definition: toml([
          'id = "p1"',
          'name = "P1"',
          '[step.gen]',
          'type = "synthetic"',
          `count = ${count}`,
          `failure_rate = ${rate}`,
          'retries = 1',
          `max_failures = "${pct}%"`,
        ]),
      });
      const ok = await tolerant.done;
      expect(ok.steps[0]!.counts).toMatchObject({
        failed: expectedFailures,
        completed: count - expectedFailures,
      });
      expect(ok.manager.status).toBe('completed');

      const strictPct = Math.max(0, ((expectedFailures - 1) / count) * 100).toFixed(2);
      const strict = await t.engine.run({
        definition: toml([
          'id = "p2"',
          'name = "P2"',
          '[step.gen]',
          'type = "synthetic"',
          `count = ${count}`,
          `failure_rate = ${rate}`,
          'retries = 1',
          `max_failures = "${strictPct}%"`,
        ]),
      });
      const bad = await strict.done;
      expect(bad.steps[0]!.status).toBe('failed');
      expect(bad.manager.status).toBe('failed');
    });

    it('on_error = "continue" lets dependents run and the run complete', async () => {
      t = await testEngine({ concurrency: 10 }, target);
      const run = await t.engine.run({
        definition: toml([
          'id = "cont"',
          'name = "Cont"',
          '[step.gen]',
          'type = "synthetic"',
          'count = 50',
          'failure_rate = 0.5',
          'retries = 1',
          'on_error = "continue"',
          '[step.after]',
          'type = "synthetic"',
          'count = 3',
          'depends_on = ["gen"]',
        ]),
      });
      const outcome = await run.done;
      expect(outcome.steps[0]!.status).toBe('failed');
      expect(outcome.steps[1]!.status).toBe('completed');
      expect(outcome.manager.status).toBe('completed');
    });

    it('a step that cannot plan fails the run even under on_error = "continue"', async () => {
      t = await testEngine({ concurrency: 4 }, target);
      const run = await t.engine.run({
        definition: toml([
          'id = "noplan"',
          'name = "No plan"',
          '[step.index]',
          'type = "files"',
          'root = "/nonexistent/stepq-test"',
          'on_error = "continue"',
          'retries = 1',
          '[step.after]',
          'type = "synthetic"',
          'count = 1',
          'depends_on = "index"',
        ]),
      });
      const outcome = await run.done;
      expect(outcome.steps[0]).toMatchObject({ status: 'failed', error: expect.stringContaining('Planning failed') });
      expect(outcome.steps[1]!.status).toBe('cancelled');
      expect(outcome.manager.status).toBe('failed');
    });

    it('ends a run at its timeout, not at the next sweep', async () => {
      t = await testEngine({ concurrency: 2, rescueIntervalMs: 60_000 }, target);
      const run = await t.engine.run({
        definition: toml([
          'id = "slowrun"',
          'name = "Slow run"',
          'timeout = "500ms"',
          '[step.s]',
          'type = "synthetic"',
          'count = 100',
          'duration_ms = 200',
        ]),
      });
      const outcome = await run.done;
      expect(outcome.manager.status).toBe('failed');
      // The sweep is a minute away and the jobs would all be done in ~10 s: only the deadline timer
      // can have failed it, with jobs left to cancel.
      expect(outcome.steps[0]!.counts.cancelled).toBeGreaterThan(0);
    });

    it('cancels a running run with 10,000 pending jobs: all cancelled, nothing running or leased', async () => {
      t = await testEngine({ concurrency: 4 }, target);
      const run = await t.engine.run({
        definition: toml(['id = "big"', 'name = "Big"', '[step.gen]', 'type = "synthetic"', 'count = 10000', 'duration_ms = 50']),
      });
      await new Promise<void>((resolve) => {
        const off = t!.engine.bus.on('step_progress', (p) => {
          if (p.counts.total === 10000 && p.counts.completed >= 4) {
            off();
            resolve();
          }
        });
      });
      const r = await t.engine.cancel(run.managerId);
      expect(r.affected).toBeGreaterThan(9000);
      const outcome = await run.done;
      expect(outcome.manager.status).toBe('cancelled');
      const c = outcome.steps[0]!.counts;
      expect(c.pending + c.running).toBe(0);
      expect(c.completed + c.cancelled).toBe(10000);
      const [leased] = await t.query(`SELECT count(*) AS n FROM jobs WHERE lease_owner IS NOT NULL OR status IN ('pending','running')`);
      expect(Number(leased!.n)).toBe(0);
    });

    it('retries the failed jobs of a step (and those the failure cancelled); the step and run reopen and complete', async () => {
      const flaky = defineStepType({
        name: 'flaky',
        config: z.object({ count: z.number().int() }).strict(),
        *plan(ctx) {
          for (let i = 0; i < ctx.config.count; i++) yield { key: `j${i}`, payload: i };
        },
        run(job) {
          const i = job.payload as number;
          if (i % 3 === 0 && job.attempt === 1) throw new Error(`first attempt of ${i} fails`);
          return { i };
        },
      });
      t = await testEngine({ concurrency: 5, stepTypes: [flaky] }, target);
      const run = await t.engine.run({
        definition: toml(['id = "r"', 'name = "R"', '[step.f]', 'type = "flaky"', 'count = 9', 'retries = 1']),
      });
      const first = await run.done;
      expect(first.manager.status).toBe('failed');
      const c1 = first.steps[0]!.counts;
      expect(c1.failed).toBeGreaterThanOrEqual(1);
      expect(c1.completed + c1.failed + c1.cancelled).toBe(9);
      const failed = await t.engine.listJobs({
        stepId: first.steps[0]!.stepId,
        status: ['failed'],
        limit: 10,
      });
      expect(failed.data.map((j) => j.error)).toEqual(expect.arrayContaining([expect.stringContaining('first attempt of')]));

      const r = await t.engine.retry(first.steps[0]!.stepId);
      expect(r.affected).toBe(c1.failed + c1.cancelled);
      const second = await t.engine.waitForRun(run.managerId);
      expect(second.manager.status).toBe('completed');
      expect(second.steps[0]!.counts).toMatchObject({
        completed: 9,
        failed: 0,
        cancelled: 0,
        total: 9,
      });
      const jobs = await t.engine.listJobs({
        stepId: first.steps[0]!.stepId,
        limit: 20,
      });
      expect(jobs.data.filter((j) => j.attempt === 2).length).toBe(c1.failed + c1.cancelled);
      expect(await t.engine.listRetries(failed.data[0]!.id)).toEqual([expect.objectContaining({ fromStatus: 'failed', attempt: 2 })]);
    });

    it('heartbeats keep a job alive past its lease; it runs once', async () => {
      let runs = 0;
      const slow = defineStepType({
        name: 'slow',
        config: z.object({}).strict(),
        async run(_job, ctx) {
          runs += 1;
          await new Promise((r) => setTimeout(r, 900));
          if (ctx.signal.aborted) throw new Error('aborted');
          return 'done';
        },
      });
      t = await testEngine(
        {
          stepTypes: [slow],
          leaseMs: 300,
          heartbeatMs: 100,
          rescueIntervalMs: 50,
        },
        target,
      );
      const run = await t.engine.run({
        definition: toml(['id = "s"', 'name = "S"', '[step.s]', 'type = "slow"']),
      });
      const outcome = await run.done;
      expect(outcome.manager.status).toBe('completed');
      expect(runs).toBe(1);
      const jobs = await t.engine.listJobs({
        stepId: outcome.steps[0]!.stepId,
        limit: 5,
      });
      expect(jobs.data[0]).toMatchObject({
        attempt: 1,
        status: 'completed',
        result: 'done',
      });
    });

    it('aborts a job at its timeout through ctx.signal and retries it with backoff', async () => {
      let attempts = 0;
      const hang = defineStepType({
        name: 'hang',
        config: z.object({}).strict(),
        run(_job, ctx) {
          attempts += 1;
          return new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)));
        },
      });
      t = await testEngine({ stepTypes: [hang] }, target);
      const run = await t.engine.run({
        definition: toml([
          'id = "h"',
          'name = "H"',
          '[step.h]',
          'type = "hang"',
          'timeout = "100ms"',
          'retries = 2',
          'backoff = { type = "fixed", base = "10ms" }',
        ]),
      });
      const outcome = await run.done;
      expect(outcome.manager.status).toBe('failed');
      expect(attempts).toBe(2);
      const [job] = (
        await t.engine.listJobs({
          stepId: outcome.steps[0]!.stepId,
          limit: 1,
        })
      ).data;
      expect(job).toMatchObject({ status: 'failed', attempt: 2 });
      expect(job!.error).toContain('ERR_JOB_TIMEOUT');
    });

    it('cancelling a run aborts its running handlers at once through ctx.signal', async () => {
      const aborted: number[] = [];
      let started = 0;
      const wait = defineStepType({
        name: 'wait',
        config: z.object({ count: z.number().int() }).strict(),
        *plan(ctx) {
          for (let i = 0; i < ctx.config.count; i++) yield { key: String(i) };
        },
        run(job, ctx) {
          started += 1;
          return new Promise((_, reject) =>
            ctx.signal.addEventListener('abort', () => {
              aborted.push(job.id);
              reject(ctx.signal.reason);
            }),
          );
        },
      });
      t = await testEngine({ stepTypes: [wait], concurrency: 4, heartbeatMs: 60_000 });
      const run = await t.engine.run({ definition: toml(['id = "w"', 'name = "W"', '[step.w]', 'type = "wait"', 'count = 10']) });
      await new Promise<void>((resolve) => {
        const off = t!.engine.bus.on('step_progress', (p) => {
          if (p.counts.running === 4) {
            off();
            resolve();
          }
        });
      });
      await t.engine.cancel(run.managerId);
      const outcome = await run.done;
      expect(outcome.manager.status).toBe('cancelled');
      expect(started).toBe(4);
      expect(aborted).toHaveLength(4);
      expect(outcome.steps[0]!.counts).toMatchObject({ cancelled: 10, running: 0 });
    });

    it('keeps logs per job with a cap per job, readable per step and per run', async () => {
      const chatty = defineStepType({
        name: 'chatty',
        config: z.object({ lines: z.number().int() }).strict(),
        *plan() {
          yield [
            { key: 'a', name: 'a' },
            { key: 'b', name: 'b' },
          ];
        },
        run(job, ctx) {
          for (let i = 0; i < ctx.config.lines; i++) ctx.log('info', `${job.name} line ${i}`);
          return null;
        },
      });
      t = await testEngine({ stepTypes: [chatty], maxLogLinesPerJob: 10 }, target);
      const run = await t.engine.run({
        definition: toml(['id = "l"', 'name = "L"', '[step.c]', 'type = "chatty"', 'lines = 25']),
      });
      const outcome = await run.done;
      const stepId = outcome.steps[0]!.stepId;
      const jobs = (await t.engine.listJobs({ stepId, limit: 10 })).data;
      const aLogs = await t.engine.listLogs({
        jobId: jobs.find((j) => j.name === 'a')!.id,
        limit: 100,
      });
      expect(aLogs.data.map((l) => l.message).slice(0, 10)).toEqual(Array.from({ length: 10 }, (_, i) => `a line ${i}`));
      expect(aLogs.data).toHaveLength(11);
      expect(aLogs.data[10]!.message).toContain('15 more log lines');
      const stepLogs = await t.engine.listLogs({ jobId: stepId, limit: 100 });
      expect(stepLogs.data.filter((l) => l.message.startsWith('b line'))).toHaveLength(10);
      expect(stepLogs.data.some((l) => l.message.startsWith('Planned 2 worker jobs'))).toBe(true);
      const runLogs = await t.engine.listLogs({
        jobId: run.managerId,
        limit: 100,
      });
      expect(runLogs.data.length).toBe(stepLogs.data.length);
    });

    it('stops gracefully: running jobs are handed back without spending an attempt', async () => {
      t = await testEngine({ concurrency: 3 }, target);
      const run = await t.engine.startRun({
        definition: toml(['id = "g"', 'name = "G"', '[step.s]', 'type = "synthetic"', 'count = 10', 'duration_ms = 5000']),
      });
      await new Promise<void>((resolve) => {
        const off = t!.engine.bus.on('step_progress', (p) => {
          if (p.counts.running === 3) {
            off();
            resolve();
          }
        });
      });
      await t.engine.stop({ graceMs: 50, closeStore: false });
      const jobs = await t.engine.store.listJobs({
        managerId: run.managerId,
        kind: 'worker',
        limit: 100,
      });
      expect(jobs.data.every((j) => j.status === 'pending' && j.attempt === 1 && j.leaseOwner === null)).toBe(true);
      await t.engine.store.close();
    });

    it('rejects invalid definitions and params whole, writing nothing', async () => {
      t = await testEngine({}, target);
      await expect(
        t.engine.startRun({
          definition: toml(['id = "x"', 'name = "X"', '[step.a]', 'type = "nope"']),
        }),
      ).rejects.toMatchObject({
        code: 'ERR_DEFINITION_INVALID',
      });
      await expect(
        t.engine.startRun({
          definition: toml([
            'id = "x"',
            'name = "X"',
            '[params.n]',
            'type = "integer"',
            '[step.a]',
            'type = "synthetic"',
            'count = "{{params.n}}"',
          ]),
          params: { n: 'many' },
        }),
      ).rejects.toMatchObject({ code: 'ERR_PARAMS_INVALID' });
      expect((await t.engine.listJobs({ parentId: null, limit: 10 })).data).toEqual([]);
    });
  });
}
