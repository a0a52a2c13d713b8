/**
 * Definitions in, `Definition` or every issue out. TOML text is parsed by smol-toml and located by
 * locate.ts; JSON and TypeScript objects go through the same validation without line numbers.
 * Nothing is accepted half: one issue anywhere and no definition is returned (correctness rule 7).
 */
import { parse as parseToml, TomlError } from 'smol-toml';
import { errorMessage } from '../core/errors.js';
import { expected, formatPath, type RawIssue } from './issues.js';
import { createLocator, type Locator } from './locate.js';
import { parseParamSpecs } from './params.js';
import {
  DEFINITION_KEYS,
  readBoolean,
  readId,
  readNonEmptyText,
  readSchedule,
  readTags,
  readText,
  readTimeout,
  unknownKeys,
} from './schema.js';
import { readSteps } from './steps.js';
import type { Definition, DefinitionIssue, ParseOptions, ParseResult } from './types.js';

interface Context extends ParseOptions {
  locator?: Locator;
}

/** Parses and validates a TOML definition. */
export function parseDefinition(source: string, opts: ParseOptions): ParseResult {
  let doc: unknown;
  try {
    doc = parseToml(source);
  } catch (err) {
    if (!(err instanceof TomlError)) throw err;
    // The first line of smol-toml's message is the reason; the rest is a code excerpt we replace
    // with file:line:column. The statement on that line (e.g. a repeated [step.x]) names the path.
    const reason = (err.message.split('\n')[0] ?? errorMessage(err)).replace(/^Invalid TOML document:\s*/, '');
    const path = createLocator(source).pathAtLine(err.line) ?? [];
    const issue: DefinitionIssue = { path: formatPath(path), message: `Invalid TOML: ${reason}` };
    if (opts.file !== undefined) issue.file = opts.file;
    issue.line = err.line;
    issue.column = err.column;
    return { ok: false, issues: [issue] };
  }
  return validate(doc, { ...opts, locator: createLocator(source) });
}

/** Validates a definition given as an object (parsed JSON, or written in TypeScript): same rules, no lines. */
export function parseDefinitionObject(obj: unknown, opts: ParseOptions): ParseResult {
  return validate(obj, opts);
}

function isTable(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date);
}

/** Deeper than any real config; validation recurses, and a value nested thousands deep would overflow it. */
export const MAX_NESTING = 64;

/** The path (its first few keys) of a value nested deeper than MAX_NESTING, or null. Iterative on purpose. */
function tooDeep(doc: unknown): Array<string | number> | null {
  const stack: Array<{ v: unknown; depth: number; path: Array<string | number> }> = [{ v: doc, depth: 0, path: [] }];
  while (stack.length > 0) {
    const { v, depth, path } = stack.pop()!;
    if (v === null || typeof v !== 'object' || v instanceof Date) continue;
    if (depth >= MAX_NESTING) return path;
    const entries: Array<[string | number, unknown]> = Array.isArray(v) ? v.map((x, i) => [i, x]) : Object.entries(v);
    for (const [k, x] of entries) stack.push({ v: x, depth: depth + 1, path: path.length < 3 ? [...path, k] : path });
  }
  return null;
}

function validate(doc: unknown, ctx: Context): ParseResult {
  const issues: RawIssue[] = [];
  const deep = tooDeep(doc);
  if (deep !== null) {
    issues.push({ path: deep, message: `Values nested more than ${MAX_NESTING} levels deep are not accepted` });
    return { ok: false, issues: locateIssues(issues, ctx) };
  }
  if (!isTable(doc)) {
    issues.push({ path: [], message: expected('a definition table with id, name and [step.<name>] tables', doc) });
    return { ok: false, issues: locateIssues(issues, ctx) };
  }
  unknownKeys({ table: doc, known: DEFINITION_KEYS, path: [], where: 'at the top level', issues });

  const required = <T>(key: string, read: (v: unknown, p: string[], i: RawIssue[]) => T | undefined): T | undefined => {
    if (doc[key] === undefined) {
      issues.push({ path: [key], message: `Missing required key "${key}"` });
      return undefined;
    }
    return read(doc[key], [key], issues);
  };
  const optional = <T>(key: string, read: (v: unknown, p: string[], i: RawIssue[]) => T | undefined): T | undefined =>
    doc[key] === undefined ? undefined : read(doc[key], [key], issues);

  const id = required('id', readId);
  const name = required('name', readNonEmptyText);
  const description = optional('description', readText);
  const tags = optional('tags', readTags);
  const schedule = optional('schedule', readSchedule);
  const timeoutMs = optional('timeout', readTimeout);
  const enabled = optional('enabled', readBoolean);
  const params = parseParamSpecs(doc.params, issues);
  const declaredParams = isTable(doc.params) ? Object.keys(doc.params) : [];
  const locator = ctx.locator;
  const steps = readSteps({
    value: doc.step,
    specs: params,
    declaredParams,
    stepTypes: ctx.stepTypes,
    issues,
    ...(locator && {
      sourceOrder: (names: string[]) =>
        names
          .map((n, i) => ({ n, i, line: locator.find(['step', n])?.line ?? Infinity }))
          .sort((a, b) => a.line - b.line || a.i - b.i)
          .map((x) => x.n),
    }),
  });

  if (issues.length > 0 || id === undefined || name === undefined) {
    return { ok: false, issues: locateIssues(issues, ctx) };
  }
  const definition: Definition = {
    id,
    name,
    tags: tags ?? [],
    timeoutMs: timeoutMs ?? null,
    enabled: enabled ?? true,
    params,
    steps,
  };
  if (description !== undefined) definition.description = description;
  if (schedule !== undefined) definition.schedule = schedule;
  return { ok: true, definition };
}

/** Adds file, line and column; with a source, issues come in source order. */
function locateIssues(raw: readonly RawIssue[], ctx: Context): DefinitionIssue[] {
  const out = raw.map((r) => {
    const issue: DefinitionIssue = { path: formatPath(r.path), message: r.message };
    if (ctx.file !== undefined) issue.file = ctx.file;
    if (r.line !== undefined) {
      issue.line = r.line;
      if (r.column !== undefined) issue.column = r.column;
    } else if (ctx.locator) {
      const pos = ctx.locator.locate(r.path);
      issue.line = pos.line;
      issue.column = pos.column;
    }
    return issue;
  });
  if (ctx.locator) out.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
  return out;
}
