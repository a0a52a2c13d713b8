/**
 * The built-in step types' own keys never collide with the options every step takes. `timeout` and
 * `concurrency` (and the other common options) are read by the definitions layer into the step's
 * policy and never reach the step type, so a type key with one of those names could never be set.
 * Checked through the real definitions layer (`parseDefinition` + `resolveRun`), as a run sees it.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { JsonValue } from '../core/job.js';
import type { StepType } from '../core/step-type.js';
import { parseDefinition, resolveRun, type ResolvedStep, type StepTypeLookup } from '../definitions/index.js';
import { STEP_OPTION_KEYS } from '../definitions/schema.js';
import { builtinStepTypes, crawlerStep, httpStep } from './index.js';
import { makeContext } from './test-harness.js';

/** The built-in types with `shell` enabled, as `--allow-shell` does. */
const stepTypes: StepTypeLookup = {
  get: (name) => builtinStepTypes.find((t) => t.name === name),
  names: () => builtinStepTypes.map((t) => t.name).sort(),
  isAllowed: (name) => builtinStepTypes.some((t) => t.name === name),
};

function resolve(source: string, params: Record<string, unknown> = {}): ResolvedStep[] {
  const parsed = parseDefinition(`id = "keys"\nname = "Keys"\n${source}`, { stepTypes });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues, null, 2));
  const resolved = resolveRun(parsed.definition, params, { stepTypes });
  if (!resolved.ok) throw new Error(JSON.stringify(resolved.issues, null, 2));
  return resolved.steps;
}

function issuesOf(source: string): Array<{ path: string; message: string }> {
  const parsed = parseDefinition(`id = "keys"\nname = "Keys"\n${source}`, { stepTypes });
  return parsed.ok ? [] : parsed.issues.map((i) => ({ path: i.path, message: i.message }));
}

function step(steps: ResolvedStep[], name: string): ResolvedStep {
  const found = steps.find((s) => s.name === name);
  if (!found) throw new Error(`no step ${name}`);
  return found;
}

/** The keys an object schema (possibly behind transforms) takes at its top level. */
function topLevelKeys(schema: z.core.$ZodType): string[] {
  let s = schema;
  while (s instanceof z.ZodPipe) s = s.def.in;
  return s instanceof z.ZodObject ? Object.keys(s.shape) : [];
}

/** The config a worker process builds from the stored raw config, with the type's own schema. */
function workerConfig<C>(type: StepType<C>, resolved: ResolvedStep): C {
  return makeContext({ type, config: resolved.rawConfig }).config;
}

describe('step type keys vs common step options', () => {
  it('no built-in type declares a key that is a common step option', () => {
    for (const type of builtinStepTypes) {
      const keys = topLevelKeys(type.config);
      expect(keys.length, type.name).toBeGreaterThan(0);
      expect(
        keys.filter((k) => (STEP_OPTION_KEYS as readonly string[]).includes(k)),
        type.name,
      ).toEqual([]);
    }
  });

  it('crawler: request_timeout and per_host_* reach the type; timeout and concurrency land in the policy', () => {
    const steps = resolve(`
[step.crawl]
type = "crawler"
start_urls = "https://example.com/"
request_timeout = "2s"
per_host_concurrency = 3
per_host_rate = 0.5
timeout = "5s"
concurrency = 4
`);
    const crawl = step(steps, 'crawl');
    expect(crawl.config).toMatchObject({ request_timeout: 2000, per_host_concurrency: 3, per_host_rate: 0.5 });
    expect(crawl.config).not.toHaveProperty('timeout');
    expect(crawl.config).not.toHaveProperty('concurrency');
    expect(crawl.rawConfig).toEqual({
      start_urls: 'https://example.com/',
      request_timeout: '2s',
      per_host_concurrency: 3,
      per_host_rate: 0.5,
    });
    expect(crawl.policy).toMatchObject({ timeoutMs: 5000, concurrency: 4 });
    expect(workerConfig(crawlerStep, crawl)).toMatchObject({ request_timeout: 2000, per_host_concurrency: 3, per_host_rate: 0.5 });
  });

  it('crawler: defaults when only the step options are given', () => {
    const crawl = step(resolve('[step.crawl]\ntype = "crawler"\nstart_urls = "https://example.com/"\ntimeout = "5s"\n'), 'crawl');
    expect(crawl.config).toMatchObject({ request_timeout: 10_000, per_host_concurrency: 2, per_host_rate: 5 });
    expect(crawl.policy.timeoutMs).toBe(5000);
  });

  it('http: request_timeout reaches the type and bounds each request; timeout lands in the policy', async () => {
    const server = http.createServer(() => undefined); // never answers
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const steps = resolve(
        `
[params.base]
type = "string"

[step.call]
type = "http"
url = "{{params.base}}/hang"
request_timeout = "200ms"
timeout = "5s"
`,
        { base },
      );
      const call = step(steps, 'call');
      expect(call.config).toMatchObject({ url: `${base}/hang`, request_timeout: 200 });
      expect(call.config).not.toHaveProperty('timeout');
      expect(call.policy.timeoutMs).toBe(5000);

      const ctx = makeContext({ type: httpStep, config: call.rawConfig });
      expect(ctx.config.request_timeout).toBe(200);
      const job = {
        id: 1,
        name: 'j',
        payload: { item: null, index: 0 } as JsonValue,
        attempt: 1,
        maxAttempts: 1,
        depth: 2,
        parentId: null,
      };
      await expect(httpStep.run(job, ctx)).rejects.toThrow(`GET ${base}/hang: timed out after 200 ms (request_timeout, attempt 1)`);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('shell: timeout is the job timeout only; the type has no timeout key of its own', () => {
    const steps = resolve('[step.run]\ntype = "shell"\ncommand = "true"\ntimeout = "5s"\n');
    const run = step(steps, 'run');
    expect(run.policy.timeoutMs).toBe(5000);
    expect(run.config).toEqual({ command: 'true', args: [], env: {}, max_output: 65_536 });
    expect(run.rawConfig).toEqual({ command: 'true' });
  });

  it('shell: without a step timeout the job has none', () => {
    const run = step(resolve('[step.run]\ntype = "shell"\ncommand = "true"\n'), 'run');
    expect(run.policy.timeoutMs).toBeNull();
  });

  it('rejects the old crawler name `rate` and type keys a type does not take', () => {
    const crawlerIssues = issuesOf('[step.crawl]\ntype = "crawler"\nstart_urls = "https://example.com/"\nrate = 5\n');
    expect(crawlerIssues).toHaveLength(1);
    expect(crawlerIssues[0]?.path).toBe('step.crawl.rate');
    expect(crawlerIssues[0]?.message).toMatch(/^Unknown key "rate".*per_host_rate/);

    const shellIssues = issuesOf('[step.run]\ntype = "shell"\ncommand = "true"\nrequest_timeout = "2s"\n');
    expect(shellIssues.map((i) => i.path)).toEqual(['step.run.request_timeout']);
  });
});
