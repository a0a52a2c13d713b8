import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JsonValue } from '../core/job.js';
import type { WorkerJob } from '../core/step-type.js';
import { createStepq } from '../engine/engine.js';
import { shellStep } from './shell.js';
import { collectPlan, makeContext, runJobs } from './test-harness.js';

const node = process.execPath;
let tmp: string;

function job(payload: JsonValue = { item: null, index: 0 }): WorkerJob {
  return { id: 1, name: 'j', payload, attempt: 1, maxAttempts: 1, depth: 2, parentId: null };
}

function run(config: Record<string, unknown>, payload?: JsonValue) {
  const ctx = makeContext({ type: shellStep, config });
  return { ctx, result: shellStep.run(job(payload), ctx) as Promise<Record<string, JsonValue>> };
}

async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Running (a killed process waiting to be reaped by its new parent, a zombie, is not). */
async function alive(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  return !/^\d+ \(.*\) Z/.test(stat);
}

beforeAll(async () => {
  tmp = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'stepq-shell-')));
});

afterAll(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

describe('shell', () => {
  it('is privileged and validates its config', () => {
    expect(shellStep.privileged).toBe(true);
    expect(shellStep.config.safeParse({ command: 'ls', shell: true }).success).toBe(false);
    expect(shellStep.config.safeParse({ command: 'ls', env: { 'BAD-NAME': 'x' } }).success).toBe(false);
    expect(shellStep.config.safeParse({ command: 'ls', args: ['{{oops}}'] }).success).toBe(false);
    expect(shellStep.config.parse({ command: 'ls' })).toEqual({ command: 'ls', args: [], env: {}, max_output: 65_536 });
    // No timeout of its own: the step option `timeout` bounds the job (see the engine test below).
    expect(shellStep.config.safeParse({ command: 'ls', timeout: '1s' }).success).toBe(false);
  });

  it('runs a program and captures its output', async () => {
    const { result } = run({ command: node, args: ['-e', 'console.log("out"); console.error("err")'] });
    expect(await result).toMatchObject({ exit_code: 0, stdout: 'out\n', stderr: 'err\n', truncated: false });
  });

  it('passes hostile arguments literally, never through a shell', async () => {
    const hostile = ['; rm -rf /', '$(whoami)', '`id`', '&& echo pwned', '\'quoted\' "double"', '*', '$HOME'];
    const config = {
      items: [{ name: 'a b|c' }],
      command: node,
      args: ['-e', 'process.stdout.write(JSON.stringify(process.argv.slice(1)))', ...hostile, '{{item.name}}'],
    };
    const ctx = makeContext({ type: shellStep, config });
    const { specs } = await collectPlan(shellStep, ctx);
    const outcome = await runJobs({ type: shellStep, config, specs });
    expect(outcome.failures).toEqual([]);
    const stdout = (outcome.results[0]?.result as Record<string, JsonValue>).stdout as string;
    expect(JSON.parse(stdout)).toEqual([...hostile, 'a b|c']);
  });

  it('sets cwd and env (templated)', async () => {
    const { result } = run(
      {
        command: node,
        args: ['-e', 'process.stdout.write(process.cwd() + " " + process.env.GREETING)'],
        cwd: tmp,
        env: { GREETING: 'hi {{item}} #{{index}}' },
      },
      { item: 'there', index: 7 },
    );
    expect((await result).stdout).toBe(`${tmp} hi there #7`);
  });

  it('throws on a non-zero exit with the code and the end of stderr', async () => {
    const { result } = run({
      command: node,
      args: ['-e', 'console.error("x".repeat(5000)); console.error("the real reason"); process.exit(3)'],
    });
    await expect(result).rejects.toThrow(/exited with code 3: x+\nthe real reason$/);
  });

  it('keeps max_output bytes and lets the program finish', async () => {
    const { result } = run({
      command: node,
      args: ['-e', 'process.stdout.write("x".repeat(100000)); process.stderr.write("done")'],
      max_output: 1000,
    });
    expect(await result).toMatchObject({ exit_code: 0, stdout: 'x'.repeat(1000), stderr: 'done', truncated: true });
  });

  it('reports a program that does not exist', async () => {
    const { result } = run({ command: 'stepq-no-such-program-here' });
    await expect(result).rejects.toThrow(/cannot run "stepq-no-such-program-here": .*ENOENT.*not found/);
  });

  it('kills the program and its children when the job is cancelled', async () => {
    const pidFile = path.join(tmp, 'pids');
    const script = `
      const { spawn } = require('node:child_process');
      const grandchild = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
      require('node:fs').writeFileSync(${JSON.stringify(pidFile)}, process.pid + ' ' + grandchild.pid);
      setTimeout(() => {}, 30000);`;
    const { ctx, result } = run({ command: node, args: ['-e', script] });
    const pids = await waitFor(async () => {
      const text = await fs.readFile(pidFile, 'utf8').catch(() => '');
      return text.includes(' ') ? text.split(' ').map(Number) : undefined;
    }, 10_000);
    const cancelledAt = Date.now();
    ctx.controller.abort(new Error('cancelled by test'));
    await expect(result).rejects.toThrow('cancelled by test');
    // Ended by the kill, not by the program's own end 30 s later.
    expect(Date.now() - cancelledAt).toBeLessThan(5000);
    await waitFor(async () => {
      const states = await Promise.all(pids.map(alive));
      return states.every((a) => !a) ? true : undefined;
    }, 5000);
  });

  it('plans one job without items', async () => {
    const ctx = makeContext({ type: shellStep, config: { command: 'echo', args: ['hi'] } });
    expect((await collectPlan(shellStep, ctx)).specs).toEqual([{ key: 'single', name: 'echo hi', payload: { item: null, index: 0 } }]);
  });
});

/** Resolves true once `pid` is gone, false if it is still alive after `ms` (a bounded wait, no sleep-to-pass). */
async function goneWithin(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!(await alive(pid))) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return !(await alive(pid));
}

describe('shell under the engine', () => {
  it.skipIf(process.platform !== 'linux')(
    'ends a job at the step option timeout: failed with the timeout error, the program killed',
    async () => {
      const dir = await fs.mkdtemp(path.join(tmp, 'engine-'));
      const engine = await createStepq({
        store: `sqlite:${path.join(dir, 'stepq.db')}`,
        logger: pino({ level: 'silent' }),
        pollMs: 20,
        allowShell: true,
      });
      engine.start();
      try {
        // The program writes its pid, then waits far longer than the step's timeout.
        const pidFile = path.join(dir, 'pid');
        const program = `require('fs').writeFileSync(${JSON.stringify(pidFile)}, String(process.pid)); setTimeout(() => {}, 60000)`;
        const source = [
          'id = "shell-timeout"',
          'name = "Shell timeout"',
          '[step.sleep]',
          'type = "shell"',
          `command = ${JSON.stringify(node)}`,
          `args = ["-e", ${JSON.stringify(program)}]`,
          'timeout = "2s"',
          'retries = 1',
        ].join('\n');
        const run = await engine.run({ definition: { source } });
        const outcome = await run.done;

        expect(outcome.manager.status).toBe('failed');
        const [job] = (await engine.listJobs({ stepId: outcome.steps[0]!.stepId, limit: 5 })).data;
        expect(job).toMatchObject({ status: 'failed', attempt: 1, timeoutMs: 2000 });
        // It ended on the abort (the program would have run for a minute), and the program is gone.
        expect(job!.error).toContain('ERR_JOB_TIMEOUT');
        const pid = Number(await fs.readFile(pidFile, 'utf8'));
        expect(pid).toBeGreaterThan(0);
        expect(await goneWithin(pid, 10_000)).toBe(true);
      } finally {
        await engine.stop({ graceMs: 1000 });
      }
    },
  );
});
