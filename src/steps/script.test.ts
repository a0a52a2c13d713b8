import { promises as fs } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JsonValue } from '../core/job.js';
import { scriptStep } from './script.js';
import { collectPlan, makeContext, runJobs } from './test-harness.js';

let tmp: string;
/** zod's ES module entry, imported by absolute URL from modules written outside the project. */
const zodUrl = pathToFileURL(path.join(path.dirname(createRequire(import.meta.url).resolve('zod/package.json')), 'index.js')).href;

const MJS = `
import { z } from ${JSON.stringify(zodUrl)};
export default {
  config: z.object({ count: z.number().int().min(1), factor: z.number().default(2) }).strict(),
  async *plan(ctx) {
    for (let i = 0; i < ctx.config.count; i++) yield { key: 'n' + i, name: 'number ' + i, payload: { n: i } };
  },
  async run(job, ctx) {
    ctx.log('info', 'doubling ' + job.payload.n);
    if (job.payload.n === 0 && !job.payload.child) await ctx.spawn([{ key: 'child', payload: { n: 100, child: true } }]);
    return { n: job.payload.n, result: job.payload.n * ctx.config.factor, step: ctx.run.stepName };
  },
};
`;

const TS = `
import { z } from ${JSON.stringify(zodUrl)};

interface Options {
  greeting: string;
}

const config = z.object({ greeting: z.string().default('hello') }).strict();

export const stepType = {
  config,
  run(_job: unknown, ctx: { config: Options }): { message: string } {
    const message: string = \`\${ctx.config.greeting} from TypeScript\`;
    return { message } satisfies { message: string };
  },
};
`;

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'stepq-script-'));
  await fs.writeFile(path.join(tmp, 'double.mjs'), MJS);
  await fs.writeFile(path.join(tmp, 'greet.ts'), TS);
  await fs.writeFile(path.join(tmp, 'default.ts'), 'export default { run: (): { ok: boolean } => ({ ok: true }) };\n');
  await fs.writeFile(path.join(tmp, 'no-run.mjs'), 'export default { plan() { return []; } };\n');
  await fs.writeFile(path.join(tmp, 'broken.mjs'), 'export default {\n');
});

afterAll(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

describe('script', () => {
  it('plans and runs a JavaScript module with its own options schema', async () => {
    const config = { module: path.relative(process.cwd(), path.join(tmp, 'double.mjs')), options: { count: 3, factor: 10 } };
    const run = { stepName: 'double' };
    const ctx = makeContext({ type: scriptStep, config, run });
    const { specs } = await collectPlan(scriptStep, ctx);
    expect(specs.map((s) => s.key)).toEqual(['n0', 'n1', 'n2']);
    const outcome = await runJobs({ type: scriptStep, config, specs, run });
    expect(outcome.failures).toEqual([]);
    expect(outcome.results.map((r) => r.result)).toEqual([
      { n: 0, result: 0, step: 'double' },
      { n: 1, result: 10, step: 'double' },
      { n: 2, result: 20, step: 'double' },
      { n: 100, result: 1000, step: 'double' },
    ]);
    expect(outcome.logs.filter((l) => l.message.startsWith('doubling'))).toHaveLength(4);
  });

  it('rejects options the module schema refuses, naming the field', async () => {
    const ctx = makeContext({ type: scriptStep, config: { module: path.join(tmp, 'double.mjs'), options: { count: 0, extra: 1 } } });
    await expect(collectPlan(scriptStep, ctx)).rejects.toThrow(/invalid options for .*double\.mjs: count: .*; \(options\): .*extra/);
  });

  it('loads a TypeScript module through tsx; without plan it gets one job', async () => {
    const config = { module: path.join(tmp, 'greet.ts'), options: { greeting: 'hi' } };
    const ctx = makeContext({ type: scriptStep, config, run: { stepName: 'greet' } });
    const { specs } = await collectPlan(scriptStep, ctx);
    expect(specs).toEqual([{ key: 'single', name: 'greet' }]);
    const outcome = await runJobs({ type: scriptStep, config, specs });
    expect(outcome.results.map((r) => r.result as JsonValue)).toEqual([{ message: 'hi from TypeScript' }]);
    const defaults = makeContext({ type: scriptStep, config: { module: path.join(tmp, 'greet.ts') } });
    const job = { id: 1, name: 'x', payload: null, attempt: 1, maxAttempts: 1, depth: 2, parentId: null };
    expect(await scriptStep.run(job, defaults)).toEqual({ message: 'hello from TypeScript' });
    const byDefault = makeContext({ type: scriptStep, config: { module: path.join(tmp, 'default.ts') } });
    expect(await scriptStep.run(job, byDefault)).toEqual({ ok: true });
  });

  it('explains a missing module, a module without run, and a module that does not load', async () => {
    const plan = (module: string) => collectPlan(scriptStep, makeContext({ type: scriptStep, config: { module } }));
    await expect(plan(path.join(tmp, 'nope.mjs'))).rejects.toThrow(`script: module ${path.join(tmp, 'nope.mjs')} not found`);
    await expect(plan(path.join(tmp, 'no-run.mjs'))).rejects.toThrow(/no-run\.mjs exports no step type/);
    await expect(plan(path.join(tmp, 'broken.mjs'))).rejects.toThrow(/cannot load module .*broken\.mjs/);
  });

  it('validates its own config', () => {
    expect(scriptStep.config.safeParse({}).success).toBe(false);
    expect(scriptStep.config.safeParse({ module: 'x.mjs', option: {} }).success).toBe(false);
  });
});
