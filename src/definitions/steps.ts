/**
 * The `[step.<name>]` tables: common options into a `StepPolicy`, the rest into the step type's
 * config, then the checks that span steps (dependencies, cycles, templates, the type's schema) and the
 * dependency order the definition keeps its steps in.
 */
import type { JsonValue } from '../core/job.js';
import { DEFAULT_POLICY, type StepPolicy } from '../core/lifecycle.js';
import { dependencyOrder } from './graph.js';

/**
 * Most steps in one definition. Steps are the workflow's shape, read whole by the page and the
 * scheduler; thousands of them are a fan-out written the wrong way (and would make validation slow).
 */
export const MAX_STEPS = 500;
import { didYouMean, expected, type FieldPath, type RawIssue } from './issues.js';
import { placeholderFor } from './params.js';
import {
  readBackoff,
  readCount,
  readInteger,
  readMaxFailures,
  readOnError,
  readText,
  readTimeout,
  STEP_OPTION_KEYS,
  stepNameProblem,
  type FieldReader,
} from './schema.js';
import { checkStepConfig } from './step-config.js';
import { findTemplateRefs, hasTemplate, substituteParams } from './templates.js';
import type { ParamSpec, StepDefinition, StepTypeLookup } from './types.js';

function isTable(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date);
}

/**
 * A definition value as JSON: TOML dates become their TOML text (TomlDate's toISOString keeps local
 * dates and times as written); inf, nan and non-JSON values from object definitions are issues.
 */
export function toJsonValue(value: unknown, path: FieldPath, issues: RawIssue[]): JsonValue | undefined {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (Number.isFinite(value)) return value;
    issues.push({ path, message: expected('a finite number', value) });
    return undefined;
  }
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) {
    const out: JsonValue[] = [];
    value.forEach((item, i) => {
      const v = toJsonValue(item, [...path, i], issues);
      if (v !== undefined) out.push(v);
    });
    return out;
  }
  if (isTable(value) && (Object.getPrototypeOf(value) === Object.prototype || Object.getPrototypeOf(value) === null)) {
    const entries: Array<[string, JsonValue]> = [];
    for (const [k, item] of Object.entries(value)) {
      const v = toJsonValue(item, [...path, k], issues);
      if (v !== undefined) entries.push([k, v]);
    }
    return Object.fromEntries(entries);
  }
  issues.push({ path, message: expected('a JSON value (string, number, boolean, list or table)', value) });
  return undefined;
}

/** A common option read with `reader`; a template in it gets a hint, since only config keys are substituted. */
function readOption<T>(reader: FieldReader<T>, value: unknown, path: FieldPath, issues: RawIssue[]): T | undefined {
  const before = issues.length;
  const out = reader(value, path, issues);
  if (typeof value === 'string' && hasTemplate(value)) {
    for (let i = before; i < issues.length; i++) {
      const iss = issues[i]!;
      issues[i] = { ...iss, message: `${iss.message} (params are substituted only in the step type's own keys)` };
    }
  }
  return out;
}

interface DraftStep {
  def: StepDefinition;
  /** Where each dependency was written, for issues about it. */
  depPaths: FieldPath[];
}

function readDependsOn(value: unknown, path: FieldPath, issues: RawIssue[]): { names: string[]; paths: FieldPath[] } {
  if (value === undefined) return { names: [], paths: [] };
  if (typeof value === 'string') return { names: [value], paths: [path] };
  if (!Array.isArray(value)) {
    issues.push({ path, message: expected('a step name or a list of step names, like ["fetch"]', value) });
    return { names: [], paths: [] };
  }
  const names: string[] = [];
  const paths: FieldPath[] = [];
  value.forEach((item, i) => {
    if (typeof item !== 'string') {
      issues.push({ path: [...path, i], message: expected('a step name', item) });
    } else if (names.includes(item)) {
      issues.push({ path: [...path, i], message: `"${item}" is listed twice` });
    } else {
      names.push(item);
      paths.push([...path, i]);
    }
  });
  return { names, paths };
}

function readStepType(value: unknown, path: FieldPath, stepTypes: StepTypeLookup, issues: RawIssue[]): string | undefined {
  const known = stepTypes.names();
  const knownText = known.length > 0 ? `known types: ${known.join(', ')}` : 'no step types are registered';
  if (value === undefined) {
    issues.push({ path, message: `Missing required key "type" (${knownText})` });
    return undefined;
  }
  if (typeof value !== 'string') {
    issues.push({ path, message: `${expected('a step type name', value)}; ${knownText}` });
    return undefined;
  }
  if (!stepTypes.get(value)) {
    issues.push({ path, message: `Unknown step type "${value}"${didYouMean(value, known)}; ${knownText}` });
    return undefined;
  }
  if (!stepTypes.isAllowed(value)) {
    issues.push({
      path,
      message:
        `Step type "${value}" is privileged (it runs arbitrary programs) and not enabled; ` +
        `the operator must allow it explicitly (start stepq with --allow-${value})`,
    });
  }
  return value;
}

function readStep(params: { name: string; table: Record<string, unknown>; stepTypes: StepTypeLookup; issues: RawIssue[] }): DraftStep {
  const { name, table, stepTypes, issues } = params;
  const base: FieldPath = ['step', name];
  const at = (key: string): FieldPath => [...base, key];
  const type = readStepType(table.type, at('type'), stepTypes, issues);
  const description = table.description === undefined ? undefined : readText(table.description, at('description'), issues);
  const deps = readDependsOn(table.depends_on, at('depends_on'), issues);

  const policy: StepPolicy = {
    ...DEFAULT_POLICY,
    maxFailures: { ...DEFAULT_POLICY.maxFailures },
    backoff: { ...DEFAULT_POLICY.backoff },
  };
  const option = <T>(key: string, reader: FieldReader<T>, apply: (v: T) => void): void => {
    if (table[key] === undefined) return;
    const v = readOption(reader, table[key], at(key), issues);
    if (v !== undefined) apply(v);
  };
  option('on_error', readOnError, (v) => (policy.onError = v));
  option('max_failures', readMaxFailures, (v) => (policy.maxFailures = v));
  option('retries', readCount, (v) => (policy.maxAttempts = v));
  option('backoff', readBackoff, (v) => (policy.backoff = v));
  option('timeout', readTimeout, (v) => (policy.timeoutMs = v));
  option('concurrency', readCount, (v) => (policy.concurrency = v));
  option('priority', readInteger, (v) => (policy.priority = v));

  const config: Array<[string, JsonValue]> = [];
  for (const [key, value] of Object.entries(table)) {
    if ((STEP_OPTION_KEYS as readonly string[]).includes(key)) continue;
    const v = toJsonValue(value, at(key), issues);
    if (v !== undefined) config.push([key, v]);
  }
  // A step with a bad type is kept as a node of the graph, so its dependencies are checked too; the
  // definition as a whole is rejected by its issues, so the empty type never escapes.
  const def: StepDefinition = { name, type: type ?? '', dependsOn: deps.names, policy, config: Object.fromEntries(config) };
  if (description !== undefined) def.description = description;
  return { def, depPaths: deps.paths };
}

/**
 * Params templates in a step's config: undeclared params are issues; fields that use a param without
 * default are returned, so that schema issues caused by its placeholder are not reported.
 */
function checkTemplates(params: {
  step: StepDefinition;
  specs: Record<string, ParamSpec>;
  declared: readonly string[];
  issues: RawIssue[];
}): { config: JsonValue; placeholders: FieldPath[] } {
  const { step, specs, declared, issues } = params;
  const placeholders: FieldPath[] = [];
  for (const ref of findTemplateRefs(step.config)) {
    if (!declared.includes(ref.param)) {
      const hint = declared.length > 0 ? `declared params: ${declared.join(', ')}` : 'the definition declares no params';
      issues.push({
        path: ['step', step.name, ...ref.path],
        message: `Unknown param "${ref.param}" in ${JSON.stringify(ref.text)}${didYouMean(ref.param, declared)}; ${hint}`,
      });
      placeholders.push(ref.path);
    } else {
      const spec = Object.hasOwn(specs, ref.param) ? specs[ref.param] : undefined;
      if (spec?.default === undefined) placeholders.push(ref.path);
    }
  }
  const { value } = substituteParams(step.config, (name) => {
    const spec = Object.hasOwn(specs, name) ? specs[name] : undefined;
    return spec === undefined ? undefined : (spec.default ?? placeholderFor(spec.type));
  });
  return { config: value, placeholders };
}

/** Reads `[step.*]`, checks everything that spans steps, and returns the steps in dependency order. */
export function readSteps(params: {
  value: unknown;
  specs: Record<string, ParamSpec>;
  /** Every name under [params], valid or not (an invalid one is reported there, not again here). */
  declaredParams: readonly string[];
  stepTypes: StepTypeLookup;
  /** Puts step names in the order they are written (object keys that look like integers come first in JS). */
  sourceOrder?: (names: string[]) => string[];
  issues: RawIssue[];
}): StepDefinition[] {
  const { value, specs, declaredParams, stepTypes, issues } = params;
  if (value === undefined || (isTable(value) && Object.keys(value).length === 0)) {
    issues.push({ path: ['step'], message: 'Expected at least one step, like [step.main] with a type; found none' });
    return [];
  }
  if (!isTable(value)) {
    issues.push({ path: ['step'], message: expected('steps as [step.<name>] tables', value) });
    return [];
  }
  const names = params.sourceOrder ? params.sourceOrder(Object.keys(value)) : Object.keys(value);
  if (names.length > MAX_STEPS) {
    issues.push({
      path: ['step'],
      message: `Expected at most ${MAX_STEPS} steps; found ${names.length} (fan work out with worker jobs, not steps)`,
    });
    return [];
  }
  const drafts: DraftStep[] = [];
  for (const name of names) {
    const table = value[name];
    const problem = stepNameProblem(name);
    if (problem) issues.push({ path: ['step', name], message: problem });
    if (!isTable(table)) {
      issues.push({ path: ['step', name], message: expected(`a table [step.${name}] with a type`, table) });
      continue;
    }
    const draft = readStep({ name, table, stepTypes, issues });
    drafts.push(draft);
    // Templates and the type's schema are checked even when an option is wrong: all issues at once.
    const { config, placeholders } = checkTemplates({ step: draft.def, specs, declared: declaredParams, issues });
    const stepType = draft.def.type === '' ? undefined : stepTypes.get(draft.def.type);
    if (stepType && isTable(config)) {
      issues.push(...checkStepConfig({ stepType, stepName: name, config, skip: placeholders }).issues);
    }
  }

  const byName = new Map(drafts.map((d) => [d.def.name, d]));
  const stepNames = [...byName.keys()];
  for (const d of drafts) {
    d.def.dependsOn.forEach((dep, i) => {
      const path = d.depPaths[i] ?? ['step', d.def.name, 'depends_on'];
      if (dep === d.def.name) {
        issues.push({ path, message: `Step "${dep}" depends on itself` });
      } else if (!byName.has(dep)) {
        issues.push({
          path,
          message: `Unknown step "${dep}"${didYouMean(dep, stepNames)}; steps in this definition: ${stepNames.join(', ')}`,
        });
      }
    });
  }
  // Self-dependencies are reported above in plain words; the graph sees the other edges.
  const result = dependencyOrder(stepNames, (n) => (byName.get(n)?.def.dependsOn ?? []).filter((d) => d !== n));
  if (!result.ok) {
    for (const cycle of result.cycles) {
      const first = cycle[0]!;
      const next = cycle[1] ?? first;
      const depIndex = byName.get(first)?.def.dependsOn.indexOf(next) ?? -1;
      const path = byName.get(first)?.depPaths[depIndex] ?? ['step', first, 'depends_on'];
      issues.push({
        path,
        message: `Dependency cycle: ${[...cycle, first].join(' → ')} (each step depends on the next)`,
      });
    }
    return [];
  }
  return result.order.map((n) => byName.get(n)!.def);
}
