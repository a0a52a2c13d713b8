import { describe, expect, test } from 'vitest';
import { z } from 'zod';
import { defineStepType } from '../core/step-type.js';
import { StepTypeRegistry } from '../engine/step-types.js';
import { formatIssues, parseDefinition, parseDefinitionObject, parseDefinitionText } from './index.js';
import type { Definition, DefinitionIssue } from './types.js';

function registry(): StepTypeRegistry {
  return new StepTypeRegistry()
    .register(
      defineStepType({
        name: 'files',
        config: z.object({
          root: z.string().min(1),
          count: z.number().int().default(1),
          globs: z.array(z.string()).default([]),
          opts: z.object({ depth: z.number().int().min(0) }).optional(),
        }),
        run: () => null,
      }),
    )
    .register(defineStepType({ name: 'noop', config: z.object({}), run: () => null }))
    .register(defineStepType({ name: 'shell', privileged: true, config: z.strictObject({ command: z.string() }), run: () => null }));
}

const stepTypes = registry();

function parseOk(source: string): Definition {
  const r = parseDefinition(source, { file: 'x.toml', stepTypes });
  if (!r.ok) throw new Error(`expected a valid definition, got:\n${formatIssues(r.issues)}`);
  return r.definition;
}

function issuesOf(source: string): DefinitionIssue[] {
  const r = parseDefinition(source, { file: 'x.toml', stepTypes });
  if (r.ok) throw new Error('expected issues, the definition was accepted');
  return r.issues;
}

/** The one issue at `path`; fails if there is none or several. */
function issueAt(source: string, path: string): DefinitionIssue {
  const found = issuesOf(source).filter((i) => i.path === path);
  if (found.length !== 1) throw new Error(`expected one issue at ${path}, got ${JSON.stringify(issuesOf(source))}`);
  return found[0]!;
}

/** A valid head, so that a test's lines start at line 3. */
const HEAD = 'id = "t"\nname = "T"\n';

describe('a valid definition', () => {
  const source = `id = "index-files"
name = "Index files"
description = "Walks a folder"
tags = ["demo", "files"]
schedule = "*/5 * * * *"
timeout = "30m"
enabled = false

[params.root]
type = "string"
default = "node_modules"
description = "Folder to index"

[params.limit]
type = "integer"

[step.report]
type = "noop"
depends_on = "index"

[step.index]
type = "files"
description = "Lists the files"
on_error = "continue"
max_failures = "5%"
retries = 5
backoff = { type = "fixed", base = "2s" }
timeout = "30s"
concurrency = 4
priority = -2
root = "{{params.root}}"
count = "{{params.limit}}"
globs = ["*.ts", "{{params.root}}/*.js"]
`;

  test('maps every field', () => {
    const def = parseOk(source);
    expect(def).toEqual({
      id: 'index-files',
      name: 'Index files',
      description: 'Walks a folder',
      tags: ['demo', 'files'],
      schedule: '*/5 * * * *',
      timeoutMs: 1_800_000,
      enabled: false,
      params: {
        root: { type: 'string', default: 'node_modules', description: 'Folder to index', required: false },
        limit: { type: 'integer', required: true },
      },
      steps: [
        {
          name: 'index',
          type: 'files',
          description: 'Lists the files',
          dependsOn: [],
          policy: {
            onError: 'continue',
            maxFailures: { kind: 'percent', value: 5 },
            maxAttempts: 5,
            backoff: { type: 'fixed', baseMs: 2000, maxMs: 300_000 },
            timeoutMs: 30_000,
            concurrency: 4,
            priority: -2,
          },
          config: { root: '{{params.root}}', count: '{{params.limit}}', globs: ['*.ts', '{{params.root}}/*.js'] },
        },
        {
          name: 'report',
          type: 'noop',
          dependsOn: ['index'],
          policy: {
            onError: 'fail',
            maxFailures: { kind: 'count', value: 0 },
            maxAttempts: 3,
            backoff: { type: 'exponential', baseMs: 1000, maxMs: 300_000 },
            timeoutMs: null,
            concurrency: null,
            priority: 0,
          },
          config: {},
        },
      ],
    });
  });

  test('optional fields take their defaults', () => {
    const def = parseOk(`${HEAD}[step.a]\ntype = "noop"\n`);
    expect(def.tags).toEqual([]);
    expect(def.timeoutMs).toBeNull();
    expect(def.enabled).toBe(true);
    expect(def.params).toEqual({});
    expect('schedule' in def).toBe(false);
    expect('description' in def).toBe(false);
  });

  test('TOML dates and times in a config become their TOML text', () => {
    const loose = registry().register(defineStepType({ name: 'loose', config: z.looseObject({}), run: () => null }));
    const r = parseDefinition(`${HEAD}[step.a]\ntype = "loose"\nat = 1979-05-27T00:32:00-07:00\nday = 1979-05-27\nlist = [07:32:00]\n`, {
      stepTypes: loose,
    });
    expect(r.ok && r.definition.steps[0]!.config).toEqual({
      at: '1979-05-27T00:32:00.000-07:00',
      day: '1979-05-27',
      list: ['07:32:00.000'],
    });
  });

  test('a key the type does not take is reported, not dropped', () => {
    const r = parseDefinitionObject(
      { id: 't', name: 'T', step: { a: { type: 'files', root: 'r', when: new Date(Date.UTC(2024, 0, 2)) } } },
      { stepTypes },
    );
    expect(r.ok || r.issues.map((i) => i.path)).toEqual(['step.a.when']);
  });
});

describe('issues are located and say what was expected and found', () => {
  test('malformed TOML uses the parser position', () => {
    const issues = issuesOf(`${HEAD}tags = ["a",,]\n`);
    expect(issues).toEqual([{ file: 'x.toml', line: 3, column: 13, path: 'tags', message: 'Invalid TOML: invalid value' }]);
  });

  test('a step defined twice is a TOML error naming the step', () => {
    const issues = issuesOf(`${HEAD}[step.a]\ntype = "noop"\n\n[step.a]\ntype = "files"\n`);
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ line: 6, path: 'step.a' });
    expect(issues[0]!.message).toMatch(/^Invalid TOML: .*already defined/);
  });

  test('unknown top-level keys, with a suggestion', () => {
    const issue = issueAt(`${HEAD}steps = 1\n[step.a]\ntype = "noop"\n`, 'steps');
    expect(issue).toMatchObject({ line: 3, column: 1 });
    expect(issue.message).toBe(
      'Unknown key "steps" at the top level (did you mean "step"?); expected one of: id, name, description, tags, schedule, timeout, enabled, params, step',
    );
  });

  test('missing id and name point at line 1', () => {
    const issues = issuesOf('description = "d"\n[step.a]\ntype = "noop"\n');
    expect(issues.filter((i) => i.path === 'id' || i.path === 'name')).toEqual([
      { file: 'x.toml', line: 1, column: 1, path: 'id', message: 'Missing required key "id"' },
      { file: 'x.toml', line: 1, column: 1, path: 'name', message: 'Missing required key "name"' },
    ]);
  });

  test('a bad id', () => {
    const issue = issueAt('id = "Index Files"\nname = "x"\n[step.a]\ntype = "noop"\n', 'id');
    expect(issue.line).toBe(1);
    expect(issue.message).toMatch(/^Expected an id of lowercase letters, digits, "_" and "-".*got "Index Files"$/);
    expect(issueAt(`id = "${'a'.repeat(65)}"\nname = "x"\n[step.a]\ntype = "noop"\n`, 'id').message).toMatch(/at most 64 characters/);
  });

  test('wrong types: a list where a string was expected, a string where a list was expected', () => {
    const src = 'id = "t"\nname = ["T"]\ntags = "demo"\ndescription = 3\nenabled = "yes"\n[step.a]\ntype = "noop"\n';
    expect(issueAt(src, 'name')).toMatchObject({ line: 2, message: 'Expected a non-empty string, got a list ["T"]' });
    expect(issueAt(src, 'tags')).toMatchObject({
      line: 3,
      message: 'Expected a list of strings, like ["demo", "files"], got "demo"',
    });
    expect(issueAt(src, 'description')).toMatchObject({ line: 4, message: 'Expected a string, got 3' });
    expect(issueAt(src, 'enabled')).toMatchObject({ line: 5, message: 'Expected true or false, got "yes"' });
  });

  test('a wrong element of a multi-line list points at the element', () => {
    const issue = issueAt(`${HEAD}tags = [\n  "a",\n  2,\n]\n[step.a]\ntype = "noop"\n`, 'tags[1]');
    expect(issue).toMatchObject({ line: 5, column: 3, message: 'Expected a string, got 2' });
  });

  test('bad cron', () => {
    const issue = issueAt(`${HEAD}schedule = "0 0 * * * *"\n[step.a]\ntype = "noop"\n`, 'schedule');
    expect(issue.line).toBe(3);
    expect(issue.message).toMatch(/got 6 .*seconds are not supported/);
    expect(issueAt(`${HEAD}schedule = "61 * * * *"\n[step.a]\ntype = "noop"\n`, 'schedule').message).toMatch(
      /^Invalid cron expression "61 \* \* \* \*"/,
    );
  });

  test('bad durations', () => {
    const src = `${HEAD}timeout = "soon"\n[step.a]\ntype = "noop"\ntimeout = "0s"\nbackoff = { base = "1x" }\n`;
    expect(issueAt(src, 'timeout')).toMatchObject({
      line: 3,
      message: 'Expected a duration like "500ms", "10s", "30m" or "1h30m" (units ms, s, m, h, d), got "soon"',
    });
    expect(issueAt(src, 'step.a.timeout')).toMatchObject({
      line: 6,
      message: 'Expected a duration greater than 0 (leave the key out for no timeout), got "0s"',
    });
    expect(issueAt(src, 'step.a.backoff.base')).toMatchObject({ line: 7, column: 13 });
  });

  test('no steps at all', () => {
    expect(issueAt(HEAD, 'step')).toMatchObject({
      line: 1,
      message: 'Expected at least one step, like [step.main] with a type; found none',
    });
  });

  test('steps as an array of tables are rejected', () => {
    expect(issueAt(`${HEAD}[[step]]\ntype = "noop"\n`, 'step')).toMatchObject({
      line: 3,
      message: 'Expected steps as [step.<name>] tables, got a list [{"type":"noop"}]',
    });
  });

  test('bad step names', () => {
    const src = `${HEAD}[step.Fetch]\ntype = "noop"\n[step."a b"]\ntype = "noop"\n`;
    expect(issueAt(src, 'step.Fetch')).toMatchObject({ line: 3 });
    expect(issueAt(src, 'step.Fetch').message).toMatch(/^Expected a step name of lowercase letters.*got "Fetch"$/);
    expect(issueAt(src, 'step."a b"')).toMatchObject({ line: 5 });
  });

  test('a step that is not a table', () => {
    expect(issueAt(`${HEAD}step.a = 3\n`, 'step.a')).toMatchObject({
      line: 3,
      message: 'Expected a table [step.a] with a type, got 3',
    });
  });

  test('a missing step type lists the known ones, at the step header', () => {
    expect(issueAt(`${HEAD}\n[step.a]\nroot = "x"\n`, 'step.a.type')).toMatchObject({
      line: 4,
      message: 'Missing required key "type" (known types: files, noop, shell)',
    });
  });

  test('an unknown step type lists the known ones', () => {
    expect(issueAt(`${HEAD}[step.a]\ntype = "fils"\n`, 'step.a.type')).toMatchObject({
      line: 4,
      message: 'Unknown step type "fils" (did you mean "files"?); known types: files, noop, shell',
    });
  });

  test('a privileged type that is not enabled says how to enable it', () => {
    const src = `${HEAD}[step.run]\ntype = "shell"\ncommand = "ls"\n`;
    expect(issueAt(src, 'step.run.type')).toMatchObject({
      line: 4,
      message:
        'Step type "shell" is privileged (it runs arbitrary programs) and not enabled; the operator must allow it explicitly (start stepq with --allow-shell)',
    });
    const enabled = registry().enable('shell');
    const r = parseDefinition(src, { stepTypes: enabled });
    expect(r.ok && r.definition.steps[0]!.config).toEqual({ command: 'ls' });
  });

  test('dependencies: missing, self, listed twice, wrong type', () => {
    const src = `${HEAD}[step.a]\ntype = "noop"\ndepends_on = ["b", "a", "x", "b"]\n[step.b]\ntype = "noop"\ndepends_on = 3\n`;
    expect(issueAt(src, 'step.a.depends_on[1]')).toMatchObject({
      line: 5,
      column: 20,
      message: 'Step "a" depends on itself',
    });
    expect(issueAt(src, 'step.a.depends_on[2]')).toMatchObject({
      line: 5,
      message: 'Unknown step "x"; steps in this definition: a, b',
    });
    expect(issueAt(src, 'step.a.depends_on[3]').message).toBe('"b" is listed twice');
    expect(issueAt(src, 'step.b.depends_on')).toMatchObject({
      line: 8,
      message: 'Expected a step name or a list of step names, like ["fetch"], got 3',
    });
  });

  test('a missing dependency written as a plain string', () => {
    expect(
      issueAt(`${HEAD}[step.a]\ntype = "noop"\ndepends_on = "fetc"\n[step.fetch]\ntype = "noop"\n`, 'step.a.depends_on'),
    ).toMatchObject({ line: 5, message: 'Unknown step "fetc" (did you mean "fetch"?); steps in this definition: a, fetch' });
  });

  test('a cycle is named in order', () => {
    const src = `${HEAD}[step.a]\ntype = "noop"\ndepends_on = ["b"]\n[step.b]\ntype = "noop"\ndepends_on = "c"\n[step.c]\ntype = "noop"\ndepends_on = ["a"]\n[step.d]\ntype = "noop"\ndepends_on = ["a"]\n`;
    expect(issuesOf(src)).toEqual([
      {
        file: 'x.toml',
        line: 5,
        column: 15,
        path: 'step.a.depends_on[0]',
        message: 'Dependency cycle: a → b → c → a (each step depends on the next)',
      },
    ]);
  });

  test('two separate cycles are both reported', () => {
    const src = `${HEAD}[step.a]\ntype = "noop"\ndepends_on = "b"\n[step.b]\ntype = "noop"\ndepends_on = "a"\n[step.c]\ntype = "noop"\ndepends_on = "d"\n[step.d]\ntype = "noop"\ndepends_on = "c"\n`;
    expect(issuesOf(src).map((i) => `${i.line} ${i.message}`)).toEqual([
      '5 Dependency cycle: a → b → a (each step depends on the next)',
      '11 Dependency cycle: c → d → c (each step depends on the next)',
    ]);
  });

  test('bad params: type name, default not matching, not a table, unknown key, missing type', () => {
    const src = `${HEAD}[params.a]\ntype = "strin"\n[params.b]\ntype = "integer"\ndefault = "42"\n[params.c]\ndefualt = 1\n[step.s]\ntype = "noop"\n`;
    expect(issueAt(src, 'params.a.type')).toMatchObject({
      line: 4,
      message: 'Expected "string", "number", "integer" or "boolean", got "strin" (did you mean "string"?)',
    });
    expect(issueAt(src, 'params.b.default')).toMatchObject({
      line: 7,
      message: `Expected a whole number (the param's type is integer), got "42"`,
    });
    expect(issueAt(src, 'params.c.defualt')).toMatchObject({
      line: 9,
      message: 'Unknown key "defualt" in a param (did you mean "default"?); expected one of: type, default, description',
    });
    expect(issueAt(src, 'params.c.type')).toMatchObject({
      line: 8,
      message: 'Missing required key "type" ("string", "number", "integer" or "boolean")',
    });
    expect(issueAt(`${HEAD}params.x = "string"\n[step.s]\ntype = "noop"\n`, 'params.x')).toMatchObject({
      line: 3,
      message: 'Expected a table [params.x] with a type, got "string"',
    });
  });

  test.each([
    ['"150%"', 'got "150%"'],
    ['-1', 'got -1'],
    ['"abc"', 'got "abc"'],
    ['2.5', 'got 2.5'],
    ['"-5%"', 'got "-5%"'],
    ['"5"', 'got "5"'],
  ])('bad max_failures %s', (value, found) => {
    expect(issueAt(`${HEAD}[step.a]\ntype = "noop"\nmax_failures = ${value}\n`, 'step.a.max_failures')).toMatchObject({
      line: 5,
      message: `Expected a count (a whole number ≥ 0) or a percentage from "0%" to "100%", like "5%", ${found}`,
    });
  });

  test.each([
    ['retries = "three"', 'step.a.retries', 'Expected a whole number ≥ 1, got "three"'],
    ['retries = 0', 'step.a.retries', 'Expected a whole number ≥ 1, got 0'],
    ['concurrency = 1.5', 'step.a.concurrency', 'Expected a whole number ≥ 1, got 1.5'],
    ['priority = "high"', 'step.a.priority', 'Expected a whole number, got "high"'],
    ['on_error = "stop"', 'step.a.on_error', 'Expected "fail" or "continue", got "stop"'],
    ['description = ["x"]', 'step.a.description', 'Expected a string, got a list ["x"]'],
    [
      'backoff = "linear"',
      'step.a.backoff',
      'Expected "exponential", "fixed" or "none", or a table like { type = "exponential", base = "1s", max = "5m" }, got "linear"',
    ],
    [
      'retries = "{{params.n}}"',
      'step.a.retries',
      `Expected a whole number ≥ 1, got "{{params.n}}" (params are substituted only in the step type's own keys)`,
    ],
  ])('bad step option: %s', (line, path, message) => {
    expect(issueAt(`${HEAD}[params.n]\ntype = "integer"\n[step.a]\ntype = "noop"\n${line}\n`, path)).toMatchObject({
      line: 7,
      column: 1,
      message,
    });
  });

  test('backoff tables: unknown keys, bad type, max below base', () => {
    const src = `${HEAD}[step.a]\ntype = "noop"\nbackoff = { type = "linear", bse = "1s" }\n[step.b]\ntype = "noop"\nbackoff = { base = "10s", max = "5s" }\n`;
    expect(issueAt(src, 'step.a.backoff.type')).toMatchObject({ line: 5, column: 13 });
    expect(issueAt(src, 'step.a.backoff.bse').message).toBe(
      'Unknown key "bse" in backoff (did you mean "base"?); expected one of: type, base, max',
    );
    expect(issueAt(src, 'step.b.backoff.max')).toMatchObject({
      line: 8,
      message: 'Expected max ≥ base for exponential backoff, got max 5s below base 10s',
    });
  });

  test('step config errors from the type schema map to step.<name>.<key>, nested too', () => {
    const src = `${HEAD}[step.a]\ntype = "files"\nroot = ""\ncount = "three"\nglobs = [\n  "a",\n  7,\n]\nopts = { depth = -1 }\n`;
    expect(issueAt(src, 'step.a.root')).toMatchObject({ line: 5, message: 'Too small: expected string to have >=1 characters (got "")' });
    expect(issueAt(src, 'step.a.count')).toMatchObject({ line: 6, message: 'Expected a number, got "three"' });
    expect(issueAt(src, 'step.a.globs[1]')).toMatchObject({ line: 9, column: 3, message: 'Expected a string, got 7' });
    expect(issueAt(src, 'step.a.opts.depth')).toMatchObject({ line: 11, column: 10 });
  });

  test('a missing required config key points at the step', () => {
    expect(issueAt(`${HEAD}[step.a]\ntype = "files"\n`, 'step.a.root')).toMatchObject({
      line: 3,
      message: 'Missing required key "root" (expected a string)',
    });
  });

  test('config keys the schema would silently drop are unknown keys, with a suggestion', () => {
    const src = `${HEAD}[step.a]\ntype = "files"\nroot = "r"\nroots = "s"\ndepend_on = "b"\nopts = { depth = 1, dpth = 2 }\n[step.b]\ntype = "shell"\ncommand = "ls"\ncomand = "x"\n`;
    const issues = issuesOf(src);
    expect(issueAt(src, 'step.a.roots')).toMatchObject({ line: 6 });
    expect(issueAt(src, 'step.a.roots').message).toMatch(
      /^Unknown key "roots" \(did you mean "root"\?\); step type "files" takes: root, count, globs, opts; every step also takes: type, description, depends_on/,
    );
    expect(issueAt(src, 'step.a.depend_on').message).toMatch(/^Unknown key "depend_on" \(did you mean "depends_on"\?\)/);
    expect(issueAt(src, 'step.a.opts.dpth').message).toMatch(
      /^Unknown key "dpth" \(did you mean "depth"\?\); step type "files" takes: depth$/,
    );
    // A strict schema reports its own unrecognized keys; they come out the same way.
    expect(issueAt(src, 'step.b.comand').message).toMatch(/^Unknown key "comand" \(did you mean "command"\?\)/);
    expect(issues.some((i) => i.path === 'step.b.type')).toBe(true); // shell is not enabled here either
  });
});

describe('templates at parse time', () => {
  test('an undeclared param is an error at its location', () => {
    const src = `${HEAD}[params.root]\ntype = "string"\n[step.a]\ntype = "files"\nroot = "x"\nglobs = ["{{ params.rot }}/*.ts"]\n`;
    expect(issueAt(src, 'step.a.globs[0]')).toMatchObject({
      line: 8,
      column: 10,
      message: 'Unknown param "rot" in "{{ params.rot }}/*.ts" (did you mean "root"?); declared params: root',
    });
    expect(issueAt(`${HEAD}[step.a]\ntype = "files"\nroot = "{{params.x}}"\n`, 'step.a.root').message).toBe(
      'Unknown param "x" in "{{params.x}}"; the definition declares no params',
    );
  });

  test('a param without default is a placeholder: its fields are not checked before the run', () => {
    const def = parseOk(
      `${HEAD}[params.n]\ntype = "integer"\n[params.r]\ntype = "string"\n[step.a]\ntype = "files"\nroot = "{{params.r}}"\ncount = "{{params.n}}"\n`,
    );
    expect(def.steps[0]!.config).toEqual({ root: '{{params.r}}', count: '{{params.n}}' });
  });

  test("a param's default is substituted and checked against the schema", () => {
    const src = `${HEAD}[params.n]\ntype = "string"\ndefault = "many"\n[step.a]\ntype = "files"\nroot = "r"\ncount = "{{params.n}}"\n`;
    expect(issueAt(src, 'step.a.count')).toMatchObject({ line: 9, message: 'Expected a number, got "many"' });
    const ok = `${HEAD}[params.n]\ntype = "integer"\ndefault = 5\n[step.a]\ntype = "files"\nroot = "r"\ncount = "{{params.n}}"\n`;
    expect(parseOk(ok).steps[0]!.config).toEqual({ root: 'r', count: '{{params.n}}' });
  });

  test('fields without templates are still checked when others hold placeholders', () => {
    const src = `${HEAD}[params.r]\ntype = "string"\n[step.a]\ntype = "files"\nroot = "{{params.r}}"\ncount = "x"\n`;
    expect(issuesOf(src).map((i) => i.path)).toEqual(['step.a.count']);
  });
});

describe('whole validation', () => {
  test('collects every issue in one pass, in source order', () => {
    const src = `id = "Bad Id"
name = ""
tags = "demo"
schedule = "* * *"
timeout = "soon"

[params.p]
type = "text"

[step.a]
type = "files"
root = 3
retries = "three"
depends_on = ["c"]

[step.b]
type = "nope"
max_failures = "150%"

[step.c]
type = "noop"
depends_on = "a"
`;
    const issues = issuesOf(src);
    expect(issues.map((i) => `${i.line}:${i.column} ${i.path}`)).toEqual([
      '1:1 id',
      '2:1 name',
      '3:1 tags',
      '4:1 schedule',
      '5:1 timeout',
      '8:1 params.p.type',
      '12:1 step.a.root',
      '13:1 step.a.retries',
      '14:15 step.a.depends_on[0]',
      '17:1 step.b.type',
      '18:1 step.b.max_failures',
    ]);
    expect(issues.find((i) => i.path === 'step.a.depends_on[0]')!.message).toBe(
      'Dependency cycle: a → c → a (each step depends on the next)',
    );
  });

  test('formatIssues prints file:line:column: path: message', () => {
    const issues = issuesOf(`${HEAD}[step.fetch]\ntype = "noop"\n  retries = "three"\n`);
    expect(formatIssues(issues)).toBe('x.toml:5:3: step.fetch.retries: Expected a whole number ≥ 1, got "three"');
    expect(
      formatIssues([
        { path: 'id', message: 'm' },
        { path: '', line: 2, message: 'n' },
      ]),
    ).toBe('id: m\nline 2: n');
  });
});

describe('step order', () => {
  test('dependencies first, ties in the order written', () => {
    const def = parseOk(
      `${HEAD}[step.report]\ntype = "noop"\ndepends_on = ["index", "fetch"]\n[step.index]\ntype = "noop"\ndepends_on = "fetch"\n[step.fetch]\ntype = "noop"\n[step.lint]\ntype = "noop"\n[step.clean]\ntype = "noop"\ndepends_on = "lint"\n`,
    );
    expect(def.steps.map((s) => s.name)).toEqual(['fetch', 'index', 'report', 'lint', 'clean']);
  });

  test('step names that look like numbers keep the order they are written in', () => {
    const def = parseOk(`${HEAD}[step.b]\ntype = "noop"\n[step.10]\ntype = "noop"\n[step.2]\ntype = "noop"\n`);
    expect(def.steps.map((s) => s.name)).toEqual(['b', '10', '2']);
  });
});

describe('parseDefinitionObject', () => {
  const obj = {
    id: 'from-json',
    name: 'From JSON',
    params: { root: { type: 'string', default: 'r' } },
    step: {
      b: { type: 'noop', depends_on: ['a'] },
      a: { type: 'files', root: '{{params.root}}', max_failures: 2, backoff: 'none' },
    },
  };

  test('accepts the same shape as TOML', () => {
    const r = parseDefinitionObject(obj, { stepTypes });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.definition.steps.map((s) => s.name)).toEqual(['a', 'b']);
    expect(r.definition.steps[0]!.policy.maxFailures).toEqual({ kind: 'count', value: 2 });
    expect(r.definition.steps[0]!.policy.backoff).toEqual({ type: 'none', baseMs: 1000, maxMs: 300_000 });
  });

  test('the same validation, without lines', () => {
    const r = parseDefinitionObject(
      { ...obj, id: 3, step: { a: { type: 'files', root: Infinity, f: () => 1 } } },
      {
        file: 'def.json',
        stepTypes,
      },
    );
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.issues).toEqual([
      { file: 'def.json', path: 'id', message: expect.stringMatching(/^Expected an id .*got 3$/) as string },
      { file: 'def.json', path: 'step.a.root', message: 'Expected a finite number, got inf' },
      { file: 'def.json', path: 'step.a.f', message: 'Expected a JSON value (string, number, boolean, list or table), got a function' },
      { file: 'def.json', path: 'step.a.root', message: 'Missing required key "root" (expected a string)' },
    ]);
  });

  test('rejects what is not a table', () => {
    const r = parseDefinitionObject(['x'], { stepTypes });
    expect(r.ok || r.issues).toEqual([
      { path: '', message: 'Expected a definition table with id, name and [step.<name>] tables, got a list ["x"]' },
    ]);
  });
});

describe('size limits', () => {
  const typeName = stepTypes.names()[0]!;
  test('at most 500 steps, refused before the dependency graph is built', () => {
    const steps = Array.from({ length: 501 }, (_, i) => `[step.s${i}]\ntype = "${typeName}"${i ? `\ndepends_on = "s${i - 1}"` : ''}`).join(
      '\n',
    );
    const r = parseDefinition(`id = "big"\nname = "Big"\n${steps}`, { file: 'x.toml', stepTypes });
    expect(r.ok).toBe(false);
    if (!r.ok)
      expect(r.issues.map((i) => i.message)).toEqual(['Expected at most 500 steps; found 501 (fan work out with worker jobs, not steps)']);
  });

  test('names, descriptions and tags have bounded lengths', () => {
    const r = parseDefinition(
      `id = "x"\nname = "${'n'.repeat(201)}"\ndescription = "${'d'.repeat(4001)}"\ntags = ["${'t'.repeat(65)}"]\n[step.a]\ntype = "${typeName}"`,
      { file: 'x.toml', stepTypes },
    );
    expect(r.ok).toBe(false);
    if (!r.ok)
      expect(
        r.issues
          .map((i) => i.path)
          .filter((p) => !p.startsWith('step.'))
          .sort(),
      ).toEqual(['description', 'name', 'tags[0]']);
  });

  test('values nested thousands deep are an issue with a line, not a stack overflow', () => {
    const depth = 5000;
    const toml = `id = "deep"\nname = "Deep"\n[step.a]\ntype = "noop"\nx = ${'['.repeat(depth)}${']'.repeat(depth)}\n`;
    const r = parseDefinition(toml, { file: 'x.toml', stepTypes });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.issues).toHaveLength(1);
      expect(r.issues[0]).toMatchObject({ file: 'x.toml', line: 5 });
      expect(r.issues[0]!.message).toMatch(/nested|Invalid TOML/);
    }
    const json = `{"id":"deep","name":"Deep","step":{"a":{"type":"noop","x":${'['.repeat(100_000)}${']'.repeat(100_000)}}}}`;
    const j = parseDefinitionText(json, { file: 'x.json', stepTypes });
    expect(j.ok).toBe(false);
    if (!j.ok)
      expect(j.issues).toEqual([{ file: 'x.json', path: 'step.a.x', message: 'Values nested more than 64 levels deep are not accepted' }]);
    // A config nested within the bound is still read.
    const ok = parseDefinitionText(`{"id":"ok","name":"Ok","step":{"a":{"type":"noop","x":${'['.repeat(40)}${']'.repeat(40)}}}}`, {
      stepTypes,
    });
    expect(ok.ok).toBe(false); // noop takes no x: the usual unknown-key issue, not a nesting one
    if (!ok.ok) expect(ok.issues[0]!.message).not.toContain('nested');
  });

  test('a JSON definition with a repeated key is refused with its line, like TOML', () => {
    const json = '{\n  "id": "d",\n  "name": "D",\n  "step": {\n    "a": { "type": "noop", "type": "files" }\n  },\n  "name": "E"\n}';
    const r = parseDefinitionText(json, { file: 'd.json', stepTypes });
    expect(r.ok).toBe(false);
    if (!r.ok)
      expect(r.issues).toEqual([
        {
          file: 'd.json',
          path: 'step.a.type',
          line: 5,
          column: 28,
          message: 'Duplicate key "type": JSON.parse would keep only the last one',
        },
      ]);
    // The same key in different objects, escaped quotes and brackets inside strings are fine.
    const ok = parseDefinitionText('{"id":"d","name":"a \\" } { [","step":{"a":{"type":"noop"},"b":{"type":"noop","depends_on":["a"]}}}', {
      stepTypes,
    });
    expect(ok.ok).toBe(true);
  });
});
