import { describe, expect, test } from 'vitest';
import { z } from 'zod';
import { StepTypeRegistry } from '../engine/step-types.js';
import { coerceParam } from './params.js';
import { parseDefinition } from './parse.js';
import { resolveRun } from './resolve.js';
import { findTemplateRefs, substituteParams } from './templates.js';
import type { Definition, ResolveResult } from './types.js';

const stepTypes = new StepTypeRegistry()
  .register({
    name: 'files',
    config: z.object({
      root: z.string().min(1),
      count: z.number().int().default(1),
      deep: z.boolean().default(false),
      extra: z.object({ list: z.array(z.union([z.string(), z.number()])), label: z.string() }).optional(),
    }),
    run: () => null,
  })
  .register({ name: 'shell', privileged: true, config: z.object({ command: z.string() }), run: () => null });

function definition(source: string): Definition {
  const r = parseDefinition(`id = "t"\nname = "T"\n${source}`, { stepTypes });
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.definition;
}

const DEF = definition(`
[params.root]
type = "string"
default = "node_modules"

[params.count]
type = "integer"

[params.ratio]
type = "number"
default = 0.5

[params.deep]
type = "boolean"
default = false

[step.index]
type = "files"
root = "{{params.root}}"
count = "{{params.count}}"
deep = "{{params.deep}}"
extra = { list = ["{{params.count}}", "{{params.root}}/sub", "x{{params.ratio}}"], label = "{{params.root}}: {{params.count}} at {{params.ratio}}, deep={{params.deep}}" }
`);

function ok(r: ResolveResult): Extract<ResolveResult, { ok: true }> {
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r;
}

describe('resolveRun', () => {
  test('coerces CLI text, keeps types in whole-string templates, interpolates the rest, nested too', () => {
    const r = ok(resolveRun(DEF, { count: '42', deep: 'true', ratio: '2.5' }, { stepTypes }));
    expect(r.params).toEqual({ root: 'node_modules', count: 42, ratio: 2.5, deep: true });
    expect(r.steps).toHaveLength(1);
    expect(r.steps[0]!.config).toEqual({
      root: 'node_modules',
      count: 42,
      deep: true,
      extra: { list: [42, 'node_modules/sub', 'x2.5'], label: 'node_modules: 42 at 2.5, deep=true' },
    });
  });

  test('takes typed values from a JSON body', () => {
    const r = ok(resolveRun(DEF, { count: 7, deep: false, root: 'src' }, { stepTypes }));
    expect(r.params).toEqual({ root: 'src', count: 7, ratio: 0.5, deep: false });
    expect(r.steps[0]!.config).toMatchObject({ root: 'src', count: 7, deep: false });
  });

  test('applies schema defaults in config, and keeps the substituted input as rawConfig', () => {
    const def = definition('[step.a]\ntype = "files"\nroot = "r"\n');
    const r = ok(resolveRun(def, {}, { stepTypes }));
    expect(r.steps[0]).toEqual({
      name: 'a',
      type: 'files',
      dependsOn: [],
      policy: def.steps[0]!.policy,
      config: { root: 'r', count: 1, deep: false },
      rawConfig: { root: 'r' },
    });
  });

  test('reports a missing required param and unknown params together', () => {
    const r = resolveRun(DEF, { cuont: '3', other: 1 }, { stepTypes });
    expect(r).toEqual({
      ok: false,
      issues: [
        { path: 'params.cuont', message: 'Unknown param "cuont" (did you mean "count"?); declared params: root, count, ratio, deep' },
        { path: 'params.other', message: 'Unknown param "other"; declared params: root, count, ratio, deep' },
        { path: 'params.count', message: 'Missing required param "count" (integer)' },
      ],
    });
  });

  test('reports values that do not fit the declared type', () => {
    const r = resolveRun(DEF, { count: '4.5', deep: 'yes', ratio: 'abc', root: 3 }, { stepTypes });
    expect(r.ok || r.issues).toEqual([
      { path: 'params.root', message: 'Expected a string, got 3' },
      { path: 'params.count', message: 'Expected a whole number, got "4.5"' },
      { path: 'params.ratio', message: 'Expected a number, got "abc"' },
      { path: 'params.deep', message: 'Expected true or false ("true", "false", "1" or "0" as text), got "yes"' },
    ]);
  });

  test("validates configs for real with the run's values", () => {
    const r = resolveRun(DEF, { count: '1', root: '' }, { stepTypes });
    expect(r.ok || r.issues).toEqual([{ path: 'step.index.root', message: 'Too small: expected string to have >=1 characters (got "")' }]);
  });

  test('rejects a privileged type the running registry does not allow', () => {
    const enabled = new StepTypeRegistry()
      .register({ name: 'shell', privileged: true, config: z.object({ command: z.string() }), run: () => null })
      .enable('shell');
    const def = parseDefinition('id = "t"\nname = "T"\n[step.s]\ntype = "shell"\ncommand = "ls"\n', { stepTypes: enabled });
    expect(def.ok).toBe(true);
    if (!def.ok) return;
    expect(ok(resolveRun(def.definition, {}, { stepTypes: enabled })).steps[0]!.config).toEqual({ command: 'ls' });
    expect(resolveRun(def.definition, {}, { stepTypes })).toEqual({
      ok: false,
      issues: [
        {
          path: 'step.s.type',
          message: 'Step type "shell" is privileged and not enabled; the operator must allow it (--allow-shell)',
        },
      ],
    });
  });

  test('keeps the dependency order of the definition', () => {
    const def = definition('[step.b]\ntype = "files"\nroot = "b"\ndepends_on = "a"\n[step.a]\ntype = "files"\nroot = "a"\n');
    expect(ok(resolveRun(def, {}, { stepTypes })).steps.map((s) => [s.name, s.dependsOn])).toEqual([
      ['a', []],
      ['b', ['a']],
    ]);
  });
});

describe('coerceParam', () => {
  test.each([
    ['integer', '42', 42],
    ['integer', ' -7 ', -7],
    ['integer', 42, 42],
    ['number', '4.5', 4.5],
    ['number', '1e3', 1000],
    ['number', 0.25, 0.25],
    ['boolean', 'true', true],
    ['boolean', 'FALSE', false],
    ['boolean', '1', true],
    ['boolean', '0', false],
    ['boolean', true, true],
    ['string', '42', '42'],
  ] as const)('%s from %j is %j', (type, input, value) => {
    expect(coerceParam(type, input)).toEqual({ ok: true, value });
  });

  test.each([
    ['integer', '4.5'],
    ['integer', ''],
    ['integer', '0x10'],
    ['integer', 1.5],
    ['number', 'abc'],
    ['number', Number.NaN],
    ['number', '1,5'],
    ['boolean', 'yes'],
    ['boolean', 1],
    ['string', 42],
    ['string', null],
  ] as const)('%s rejects %j', (type, input) => {
    const r = coerceParam(type, input);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message).toMatch(/^Expected .*, got /);
  });
});

describe('templates', () => {
  test('findTemplateRefs lists every template with its path', () => {
    expect(findTemplateRefs({ a: '{{params.x}}', b: ['plain', { c: 'pre {{ params.y }} {{params.x}}' }], d: 3 })).toEqual([
      { path: ['a'], param: 'x', text: '{{params.x}}' },
      { path: ['b', 1, 'c'], param: 'y', text: 'pre {{ params.y }} {{params.x}}' },
      { path: ['b', 1, 'c'], param: 'x', text: 'pre {{ params.y }} {{params.x}}' },
    ]);
  });

  test('malformed param names are found (and so reported), never left silently', () => {
    expect(findTemplateRefs('{{params.a.b}}').map((r) => r.param)).toEqual(['a.b']);
  });

  test('substituteParams: typed whole strings, interpolation, unknown params left and listed', () => {
    const values: Record<string, number | string | boolean> = { n: 5, s: 'x', b: true };
    const lookup = (name: string) => values[name];
    expect(substituteParams({ n: '{{params.n}}', t: ' {{params.n}}', l: ['{{params.b}}', '{{params.s}}-{{params.n}}'] }, lookup)).toEqual({
      value: { n: 5, t: ' 5', l: [true, 'x-5'] },
      missing: [],
    });
    expect(substituteParams(['{{params.zz}}', 'a{{params.zz}}'], lookup)).toEqual({
      value: ['{{params.zz}}', 'a{{params.zz}}'],
      missing: [
        { path: [0], param: 'zz', text: '{{params.zz}}' },
        { path: [1], param: 'zz', text: 'a{{params.zz}}' },
      ],
    });
  });

  test('text that only looks like a template is kept', () => {
    expect(substituteParams('{{ other }} and {params.n}', () => 1)).toEqual({
      value: '{{ other }} and {params.n}',
      missing: [],
    });
  });
});
