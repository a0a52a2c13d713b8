/**
 * Params: declared in `[params.<name>]` tables, given per run. Run values come as text from the CLI
 * (`--param count=42`) or typed from a JSON body; both are coerced to the declared type here, once.
 */
import type { JsonValue } from '../core/job.js';
import { didYouMean, expected, listChoices, type FieldPath, type RawIssue } from './issues.js';
import { PARAM_TYPES, type ParamSpec, type ParamType } from './types.js';

/** Names usable in `{{params.name}}`. */
export const PARAM_NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/;
export const PARAM_KEYS = ['type', 'default', 'description'] as const;

export type ParamValue = string | number | boolean;

const TYPE_TEXT: Record<ParamType, string> = {
  string: 'a string',
  number: 'a number',
  integer: 'a whole number',
  boolean: 'true or false',
};

/** What a param without a default stands for while validating a definition before any run. */
const PLACEHOLDER: Record<ParamType, ParamValue> = { string: '', number: 0, integer: 0, boolean: false };

export function placeholderFor(type: ParamType): ParamValue {
  return PLACEHOLDER[type];
}

function isPlainTable(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date);
}

function isParamType(v: unknown): v is ParamType {
  return typeof v === 'string' && (PARAM_TYPES as readonly string[]).includes(v);
}

/** True when `value` already has the type (no coercion: used for defaults written in the definition). */
function hasType(type: ParamType, value: unknown): value is ParamValue {
  switch (type) {
    case 'string':
      return typeof value === 'string';
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'integer':
      return typeof value === 'number' && Number.isSafeInteger(value);
    case 'boolean':
      return typeof value === 'boolean';
  }
}

/** Reads the `params` table of a definition, reporting every problem into `issues`. */
export function parseParamSpecs(value: unknown, issues: RawIssue[]): Record<string, ParamSpec> {
  if (value === undefined) return {};
  const path: FieldPath = ['params'];
  if (!isPlainTable(value)) {
    issues.push({ path, message: expected('a table of params, like [params.root] with a type', value) });
    return {};
  }
  const specs: Array<[string, ParamSpec]> = [];
  for (const [name, table] of Object.entries(value)) {
    const at = [...path, name];
    if (!PARAM_NAME.test(name)) {
      issues.push({
        path: at,
        message: expected('a param name of letters, digits, "_" and "-" starting with a letter or "_"', name),
      });
    }
    if (!isPlainTable(table)) {
      issues.push({ path: at, message: expected(`a table [params.${name}] with a type`, table) });
      continue;
    }
    for (const key of Object.keys(table)) {
      if (!(PARAM_KEYS as readonly string[]).includes(key)) {
        issues.push({
          path: [...at, key],
          message: `Unknown key "${key}" in a param${didYouMean(key, PARAM_KEYS)}; expected one of: ${PARAM_KEYS.join(', ')}`,
        });
      }
    }
    const type = table.type;
    if (type === undefined) {
      issues.push({ path: [...at, 'type'], message: `Missing required key "type" (${listChoices(PARAM_TYPES)})` });
    } else if (!isParamType(type)) {
      const hint = typeof type === 'string' ? didYouMean(type, PARAM_TYPES) : '';
      issues.push({ path: [...at, 'type'], message: `${expected(listChoices(PARAM_TYPES), type)}${hint}` });
    }
    const description = table.description;
    if (description !== undefined && typeof description !== 'string') {
      issues.push({ path: [...at, 'description'], message: expected('a string', description) });
    }
    const def = table.default;
    if (def !== undefined && isParamType(type) && !hasType(type, def)) {
      issues.push({ path: [...at, 'default'], message: expected(`${TYPE_TEXT[type]} (the param's type is ${type})`, def) });
    }
    if (!isParamType(type)) continue;
    const spec: ParamSpec = { type, required: def === undefined };
    if (def !== undefined && hasType(type, def)) spec.default = def;
    if (typeof description === 'string') spec.description = description;
    specs.push([name, spec]);
  }
  // fromEntries defines own properties, so even a param named "__proto__" stays an ordinary entry.
  return Object.fromEntries(specs);
}

const NUMBER_TEXT = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

export type Coerced = { ok: true; value: ParamValue } | { ok: false; message: string };

/**
 * A run's value for a param: typed values are checked, text is converted ("42" → 42 for number and
 * integer; "true"/"false"/"1"/"0" for boolean). Nothing else is guessed.
 */
export function coerceParam(type: ParamType, value: unknown): Coerced {
  const fail = (what: string): Coerced => ({ ok: false, message: expected(what, value) });
  switch (type) {
    case 'string':
      return typeof value === 'string' ? { ok: true, value } : fail('a string');
    case 'number':
    case 'integer': {
      let n: number | undefined;
      if (typeof value === 'number') n = value;
      else if (typeof value === 'string' && NUMBER_TEXT.test(value.trim())) n = Number(value.trim());
      const whole = type === 'integer';
      if (n === undefined || !Number.isFinite(n) || (whole && !Number.isSafeInteger(n))) {
        return fail(whole ? 'a whole number' : 'a number');
      }
      return { ok: true, value: n };
    }
    case 'boolean': {
      if (typeof value === 'boolean') return { ok: true, value };
      if (typeof value === 'string') {
        const text = value.trim().toLowerCase();
        if (text === 'true' || text === '1') return { ok: true, value: true };
        if (text === 'false' || text === '0') return { ok: true, value: false };
      }
      return fail('true or false ("true", "false", "1" or "0" as text)');
    }
  }
}

/** The values of a run: given ones coerced, defaults for the rest; unknown and missing params are issues. */
export function resolveParamValues(
  specs: Record<string, ParamSpec>,
  raw: Record<string, unknown>,
  issues: RawIssue[],
): Record<string, JsonValue> {
  const declared = Object.keys(specs);
  for (const name of Object.keys(raw)) {
    if (Object.hasOwn(specs, name)) continue;
    const known = declared.length > 0 ? `declared params: ${declared.join(', ')}` : 'the definition declares no params';
    issues.push({ path: ['params', name], message: `Unknown param "${name}"${didYouMean(name, declared)}; ${known}` });
  }
  const values: Array<[string, JsonValue]> = [];
  for (const [name, spec] of Object.entries(specs)) {
    const given = Object.hasOwn(raw, name) ? raw[name] : undefined;
    if (given !== undefined) {
      const c = coerceParam(spec.type, given);
      if (c.ok) values.push([name, c.value]);
      else issues.push({ path: ['params', name], message: c.message });
    } else if (spec.default !== undefined) {
      values.push([name, spec.default]);
    } else {
      issues.push({
        path: ['params', name],
        message: `Missing required param "${name}" (${spec.type}${spec.description ? `: ${spec.description}` : ''})`,
      });
    }
  }
  return Object.fromEntries(values);
}
