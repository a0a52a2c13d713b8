/**
 * The shipped examples parse and resolve with the built-in step types, through the real definitions
 * layer: a renamed config key or a changed default shows up here, not in a new user's first run.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDefinition, resolveRun, type StepTypeLookup } from '../definitions/index.js';
import { builtinStepTypes } from './index.js';

const examples = path.resolve(import.meta.dirname, '../../examples');

const stepTypes: StepTypeLookup = {
  get: (name) => builtinStepTypes.find((t) => t.name === name),
  names: () => builtinStepTypes.map((t) => t.name).sort(),
  isAllowed: (name) => builtinStepTypes.some((t) => t.name === name && !t.privileged),
};

async function load(file: string) {
  const source = await fs.readFile(path.join(examples, file), 'utf8');
  const parsed = parseDefinition(source, { file, stepTypes });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues, null, 2));
  return parsed.definition;
}

describe('built-in step types', () => {
  it('have distinct valid names; only shell and script are privileged', () => {
    const names = builtinStepTypes.map((t) => t.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names.sort()).toEqual(['crawler', 'files', 'http', 'report', 'script', 'shell', 'synthetic']);
    for (const name of names) expect(name).toMatch(/^[a-z][a-z0-9_-]*$/);
    expect(
      builtinStepTypes
        .filter((t) => t.privileged)
        .map((t) => t.name)
        .sort(),
    ).toEqual(['script', 'shell']);
  });
});

describe('examples', () => {
  it('index-files resolves with its default root', async () => {
    const def = await load('index-files.toml');
    expect(def.id).toBe('index-files');
    expect(def.params.root).toMatchObject({ type: 'string', default: 'node_modules', required: false });
    const resolved = resolveRun(def, {}, { stepTypes });
    if (!resolved.ok) throw new Error(JSON.stringify(resolved.issues));
    const [index, report] = resolved.steps;
    expect(index).toMatchObject({ name: 'index', type: 'files', config: { root: 'node_modules', include: ['**/*'], hash: true } });
    expect(index?.policy).toMatchObject({ onError: 'continue', maxFailures: { kind: 'percent', value: 5 }, maxAttempts: 1 });
    expect(report).toMatchObject({
      name: 'report',
      type: 'report',
      dependsOn: ['index'],
      config: { output: 'reports/{{run.id}}', top: 20 },
    });
  });

  it('crawl-site requires start_url and resolves with it', async () => {
    const def = await load('crawl-site.toml');
    expect(def.params.start_url).toMatchObject({ type: 'string', required: true });
    expect(resolveRun(def, {}, { stepTypes }).ok).toBe(false);
    const resolved = resolveRun(def, { start_url: 'https://example.com/' }, { stepTypes });
    if (!resolved.ok) throw new Error(JSON.stringify(resolved.issues));
    expect(resolved.steps[0]).toMatchObject({
      type: 'crawler',
      config: {
        start_urls: ['https://example.com/'],
        max_depth: 3,
        max_pages: 1000,
        same_origin: true,
        respect_robots: true,
        per_host_rate: 5,
        per_host_concurrency: 2,
        request_timeout: 10_000,
      },
      policy: { timeoutMs: null, concurrency: null },
    });
    expect(resolved.steps[0]?.config).not.toHaveProperty('timeout');
    expect(resolved.steps[1]).toMatchObject({ type: 'report', dependsOn: ['crawl'] });
  });

  it('synthetic-demo resolves', async () => {
    const def = await load('synthetic-demo.toml');
    const resolved = resolveRun(def, {}, { stepTypes });
    if (!resolved.ok) throw new Error(JSON.stringify(resolved.issues));
    expect(resolved.steps.map((s) => [s.name, s.type, s.dependsOn])).toEqual([
      ['generate', 'synthetic', []],
      ['summarize', 'synthetic', ['generate']],
    ]);
    expect(resolved.steps[0]?.config).toMatchObject({ count: 2000, duration_ms: 5, failure_rate: 0.01, spawn: 1, spawn_depth: 1 });
    expect(resolved.steps[0]?.policy).toMatchObject({ maxAttempts: 1, maxFailures: { kind: 'percent', value: 5 } });
  });
});
