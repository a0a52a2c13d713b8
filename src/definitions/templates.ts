/**
 * `{{params.name}}` templates inside the strings of a step's config (nested lists and tables too).
 * A string that is exactly one template takes the param's value with its type (`"{{params.count}}"`
 * becomes the number 5); a template inside a longer string is interpolated as text.
 */
import type { JsonValue } from '../core/job.js';
import type { FieldPath } from './issues.js';

// The name part is deliberately loose (`[^{}\s]*`) so that `{{params.a.b}}` or `{{params.}}` are
// reported as unknown params instead of being left in the text unnoticed.
const TEMPLATE = /\{\{\s*params\.([^{}\s]*)\s*\}\}/g;
const WHOLE_TEMPLATE = /^\{\{\s*params\.([^{}\s]*)\s*\}\}$/;

export interface TemplateRef {
  /** Where the string holding the template is, relative to the value searched. */
  path: FieldPath;
  param: string;
  /** The whole string the template was found in. */
  text: string;
}

export function hasTemplate(text: string): boolean {
  TEMPLATE.lastIndex = 0;
  return TEMPLATE.test(text);
}

/** Every template in a value, in document order. */
export function findTemplateRefs(value: JsonValue, path: FieldPath = []): TemplateRef[] {
  const out: TemplateRef[] = [];
  const walk = (v: JsonValue, at: FieldPath): void => {
    if (typeof v === 'string') {
      for (const m of v.matchAll(TEMPLATE)) out.push({ path: at, param: m[1] ?? '', text: v });
    } else if (Array.isArray(v)) {
      v.forEach((item, i) => walk(item, [...at, i]));
    } else if (v !== null && typeof v === 'object') {
      for (const [k, item] of Object.entries(v)) walk(item, [...at, k]);
    }
  };
  walk(value, path);
  return out;
}

/**
 * Replaces templates using `lookup`. A template whose param `lookup` does not know stays as written
 * and is listed in `missing` (validation reports those before substitution matters).
 */
export function substituteParams(
  value: JsonValue,
  lookup: (param: string) => JsonValue | undefined,
): { value: JsonValue; missing: TemplateRef[] } {
  const missing: TemplateRef[] = [];
  const walk = (v: JsonValue, at: FieldPath): JsonValue => {
    if (typeof v === 'string') {
      const whole = WHOLE_TEMPLATE.exec(v);
      if (whole) {
        const param = whole[1] ?? '';
        const found = lookup(param);
        if (found === undefined) missing.push({ path: at, param, text: v });
        return found === undefined ? v : found;
      }
      return v.replace(TEMPLATE, (match, param: string) => {
        const found = lookup(param);
        if (found === undefined) {
          missing.push({ path: at, param, text: v });
          return match;
        }
        return typeof found === 'string' ? found : JSON.stringify(found);
      });
    }
    if (Array.isArray(v)) return v.map((item, i) => walk(item, [...at, i]));
    if (v !== null && typeof v === 'object') {
      return Object.fromEntries(Object.entries(v).map(([k, item]) => [k, walk(item, [...at, k])]));
    }
    return v;
  };
  return { value: walk(value, []), missing };
}
