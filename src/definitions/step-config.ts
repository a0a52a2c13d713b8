/**
 * A step's own keys, checked by its step type's zod schema. zod's issues become definition issues
 * (`step.<name>.<key>...`), and keys a stripping `z.object` would silently drop are reported as
 * unknown: a misspelt option must never be accepted and ignored.
 */
import { z } from 'zod';
import type { JsonValue } from '../core/job.js';
import type { StepType } from '../core/step-type.js';
import { errorMessage } from '../core/errors.js';
import { describeValue, didYouMean, type FieldPath, type PathSegment, type RawIssue } from './issues.js';
import { STEP_OPTION_KEYS } from './schema.js';

type Issue = z.core.$ZodIssue;

const TYPE_TEXT: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  bigint: 'a whole number',
  boolean: 'true or false',
  array: 'a list',
  object: 'a table',
  record: 'a table',
  map: 'a table',
  date: 'a date',
};

function startsWith(path: readonly PathSegment[], prefix: FieldPath): boolean {
  return prefix.length <= path.length && prefix.every((p, i) => path[i] === p);
}

/** zod's default texts rewritten into "Expected X, got Y"; a step type's own messages kept as written. */
function issueMessage(iss: Issue): string {
  const hasInput = 'input' in iss && iss.input !== undefined;
  if (iss.code === 'invalid_type' && iss.message.startsWith('Invalid input')) {
    const what = TYPE_TEXT[iss.expected] ?? iss.expected;
    if (!hasInput) {
      const key = iss.path[iss.path.length - 1];
      return typeof key === 'string' ? `Missing required key "${key}" (expected ${what})` : `Expected ${what}, got nothing`;
    }
    return `Expected ${what}, got ${describeValue(iss.input)}`;
  }
  if (iss.code === 'invalid_value' && iss.message.startsWith('Invalid option')) {
    const choices = iss.values.map((v) => (typeof v === 'string' ? JSON.stringify(v) : String(v))).join(', ');
    return `Expected one of ${choices}, got ${describeValue(iss.input)}`;
  }
  return hasInput && !/\bgot\b/.test(iss.message) ? `${iss.message} (got ${describeValue(iss.input)})` : iss.message;
}

/** Looks through wrappers that keep the input's shape (optional, default, a transform's input...). */
function unwrap(schema: z.core.$ZodType): z.core.$ZodType {
  let s = schema;
  for (let depth = 0; depth < 20; depth++) {
    if (s instanceof z.ZodOptional || s instanceof z.ZodNullable || s instanceof z.ZodDefault) s = s.unwrap();
    else if (s instanceof z.ZodPrefault || s instanceof z.ZodReadonly || s instanceof z.ZodCatch) s = s.def.innerType;
    else if (s instanceof z.ZodPipe) s = s.def.in;
    else return s;
  }
  return s;
}

/** Keys of `value` that a stripping object schema (anywhere inside `schema`) would drop without a word. */
function droppedKeys(params: {
  schema: z.core.$ZodType;
  value: unknown;
  path: FieldPath;
  out: Array<{ path: FieldPath; known: string[] }>;
}): void {
  const { value, path, out } = params;
  const schema = unwrap(params.schema);
  if (schema instanceof z.ZodObject) {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return;
    const shape = schema.shape as Record<string, z.core.$ZodType>;
    const known = Object.keys(shape);
    for (const [key, item] of Object.entries(value)) {
      const field = Object.hasOwn(shape, key) ? shape[key] : undefined;
      if (field) droppedKeys({ schema: field, value: item, path: [...path, key], out });
      // No catchall means strip mode; strict objects report their own unrecognized keys.
      else if (schema.def.catchall === undefined) out.push({ path: [...path, key], known });
    }
  } else if (schema instanceof z.ZodArray && Array.isArray(value)) {
    value.forEach((item, i) => droppedKeys({ schema: schema.element, value: item, path: [...path, i], out }));
  }
}

export interface ConfigCheck {
  /** The schema's output, when the config is valid. */
  data?: unknown;
  issues: RawIssue[];
}

/**
 * Parses `config` with the step type's schema. Issues at or under a path in `skip` are dropped: those
 * fields held a placeholder (a param without default) while validating before a run.
 */
export function checkStepConfig(params: {
  stepType: StepType<unknown>;
  stepName: string;
  config: Record<string, JsonValue>;
  skip?: readonly FieldPath[];
}): ConfigCheck {
  const { stepType, stepName, config } = params;
  const skip = params.skip ?? [];
  const base: FieldPath = ['step', stepName];
  const kept = (path: readonly PathSegment[]) => !skip.some((s) => startsWith(path, s));
  const issues: RawIssue[] = [];
  const unknownKey = (path: FieldPath, known: readonly string[], topLevel: boolean): RawIssue => {
    const key = String(path[path.length - 1]);
    const candidates = topLevel ? [...known, ...STEP_OPTION_KEYS] : known;
    const takes = known.length > 0 ? `takes: ${known.join(', ')}` : 'takes no keys here';
    const also = topLevel ? `; every step also takes: ${STEP_OPTION_KEYS.join(', ')}` : '';
    return {
      path: [...base, ...path],
      message: `Unknown key "${key}"${didYouMean(key, candidates)}; step type "${stepType.name}" ${takes}${also}`,
    };
  };

  let result: ReturnType<typeof stepType.config.safeParse>;
  try {
    result = stepType.config.safeParse(config, { reportInput: true });
  } catch (err) {
    // A schema is user code (refinements, transforms); a throw is a bug there, reported like an issue.
    return { issues: [{ path: base, message: `The schema of step type "${stepType.name}" threw: ${errorMessage(err)}` }] };
  }
  if (!result.success) {
    for (const iss of result.error.issues) {
      const path = iss.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
      if (iss.code === 'unrecognized_keys') {
        const target = unwrap(schemaAt(stepType.config, path));
        const known = target instanceof z.ZodObject ? Object.keys(target.shape) : [];
        for (const key of iss.keys) {
          if (kept([...path, key])) issues.push(unknownKey([...path, key], known, path.length === 0));
        }
        continue;
      }
      if (kept(path)) issues.push({ path: [...base, ...path], message: issueMessage(iss) });
    }
  }
  const dropped: Array<{ path: FieldPath; known: string[] }> = [];
  droppedKeys({ schema: stepType.config, value: config, path: [], out: dropped });
  for (const d of dropped) {
    if (kept(d.path)) issues.push(unknownKey(d.path, d.known, d.path.length === 1));
  }
  return result.success && issues.length === 0 ? { data: result.data, issues } : { issues };
}

/** The schema that validates the value at `path` inside `schema`, as far as it can be followed. */
function schemaAt(schema: z.core.$ZodType, path: readonly PathSegment[]): z.core.$ZodType {
  let s = schema;
  for (const seg of path) {
    const u = unwrap(s);
    if (u instanceof z.ZodObject && typeof seg === 'string') {
      const shape = u.shape as Record<string, z.core.$ZodType>;
      const next = Object.hasOwn(shape, seg) ? shape[seg] : undefined;
      if (!next) return u;
      s = next;
    } else if (u instanceof z.ZodArray) {
      s = u.element;
    } else {
      return u;
    }
  }
  return s;
}
