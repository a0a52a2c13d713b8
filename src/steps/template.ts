/**
 * `{{...}}` templates in step configs that fan out over items (http, shell):
 *
 * - `{{item}}`: the whole item (strings as they are, other values as JSON),
 * - `{{item.field.sub}}`, `{{item.list[0].name}}` or `{{item.list.0.name}}`: a path into the item,
 * - `{{index}}`: the item's position (0-based),
 * - a filter after a pipe: `{{item.name | url}}` (encodeURIComponent) or `{{item | json}}` (always JSON).
 *
 * `{{params.x}}` and `{{run.x}}` belong to the definitions layer, which substitutes them before a run
 * starts; they are left untouched here. Any other root is a mistake in the definition and is reported
 * when the config is validated, not when the thousandth job runs.
 */
import { z } from 'zod';
import type { JsonValue } from '../core/job.js';

export interface TemplateScope {
  item: JsonValue;
  index: number;
}

const TEMPLATE_RE = /\{\{\s*([^{}]*?)\s*\}\}/g;
const WHOLE_TEMPLATE_RE = /^\{\{\s*([^{}]*?)\s*\}\}$/;
const FILTERS = ['url', 'json'] as const;
type Filter = (typeof FILTERS)[number];
const OWN_ROOTS = ['item', 'index'] as const;
const FOREIGN_ROOTS = ['params', 'run'] as const;

interface Expression {
  root: string;
  path: Array<string | number>;
  filter: Filter | undefined;
}

function parseExpression(source: string): Expression | string {
  const [pathPart = '', filterPart, ...rest] = source.split('|').map((s) => s.trim());
  if (rest.length > 0) return `"{{${source}}}" has more than one filter`;
  let filter: Filter | undefined;
  if (filterPart !== undefined) {
    if (!(FILTERS as readonly string[]).includes(filterPart)) {
      return `"{{${source}}}" uses unknown filter "${filterPart}" (known: ${FILTERS.join(', ')})`;
    }
    filter = filterPart as Filter;
  }
  // `a.b[0].c` → ['a', 'b', 0, 'c']
  const segments: Array<string | number> = [];
  for (const raw of pathPart.replace(/\[(\d+)\]/g, '.$1').split('.')) {
    if (raw === '') return `"{{${source}}}" is not a valid path`;
    segments.push(/^\d+$/.test(raw) ? Number(raw) : raw);
  }
  const [root, ...path] = segments;
  if (typeof root !== 'string') return `"{{${source}}}" must start with a name`;
  return { root, path, filter };
}

/** Checks every `{{...}}` in `text`; returns a message for the first bad one, or undefined. */
export function checkTemplate(text: string): string | undefined {
  for (const m of text.matchAll(TEMPLATE_RE)) {
    const expr = parseExpression(m[1] ?? '');
    if (typeof expr === 'string') return expr;
    if ((FOREIGN_ROOTS as readonly string[]).includes(expr.root)) continue;
    if (!(OWN_ROOTS as readonly string[]).includes(expr.root)) {
      return `"{{${m[1]}}}": unknown template variable "${expr.root}" (use item, item.field, index, params.x)`;
    }
    if (expr.root === 'index' && expr.path.length > 0) return `"{{${m[1]}}}": index has no fields`;
  }
  return undefined;
}

/** A string that may hold templates, checked when the config is validated. */
export function templateString() {
  return z.string().superRefine((text, ctx) => {
    const problem = checkTemplate(text);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });
}

function lookup(expr: Expression, scope: TemplateScope, source: string): JsonValue {
  if (expr.root === 'index') return scope.index;
  let value: JsonValue | undefined = scope.item;
  const walked: string[] = ['item'];
  for (const seg of expr.path) {
    if (Array.isArray(value) && typeof seg === 'number') value = value[seg];
    else if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      value = Object.hasOwn(value, String(seg)) ? value[String(seg)] : undefined;
    } else value = undefined;
    if (value === undefined) {
      throw new Error(`Template "{{${source}}}": ${walked.join('.')} has no field "${seg}" (item ${scope.index})`);
    }
    walked.push(String(seg));
  }
  return value;
}

function stringify(value: JsonValue, filter: Filter | undefined): string {
  if (filter === 'json') return JSON.stringify(value);
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return filter === 'url' ? encodeURIComponent(text) : text;
}

/** Substitutes `{{item...}}` and `{{index}}` in `text`; a missing field throws, naming the template. */
export function renderTemplate(text: string, scope: TemplateScope): string {
  return text.replace(TEMPLATE_RE, (whole, source: string) => {
    const expr = parseExpression(source);
    if (typeof expr === 'string') throw new Error(expr);
    if (!(OWN_ROOTS as readonly string[]).includes(expr.root)) return whole;
    return stringify(lookup(expr, scope, source), expr.filter);
  });
}

/**
 * Renders templates inside a JSON value (a request body). A string that is exactly one template
 * without a filter, such as `"{{item.tags}}"`, becomes the value itself (an array stays an array).
 */
export function renderJsonTemplate(value: JsonValue, scope: TemplateScope): JsonValue {
  if (typeof value === 'string') {
    const whole = WHOLE_TEMPLATE_RE.exec(value);
    if (whole) {
      const expr = parseExpression(whole[1] ?? '');
      if (typeof expr !== 'string' && expr.filter === undefined && (OWN_ROOTS as readonly string[]).includes(expr.root)) {
        return lookup(expr, scope, whole[1] ?? '');
      }
    }
    return renderTemplate(value, scope);
  }
  if (Array.isArray(value)) return value.map((v) => renderJsonTemplate(v, scope));
  if (value !== null && typeof value === 'object') {
    const out: { [key: string]: JsonValue } = {};
    for (const [k, v] of Object.entries(value)) out[k] = renderJsonTemplate(v, scope);
    return out;
  }
  return value;
}

/** Every string inside a JSON value, for checking templates in a body given as JSON. */
export function jsonStrings(value: JsonValue): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(jsonStrings);
  if (value !== null && typeof value === 'object') return Object.values(value).flatMap(jsonStrings);
  return [];
}
