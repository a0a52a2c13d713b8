/**
 * Definitions: list, one with its TOML source, validate, save (POST the TOML), delete, execute.
 */
import type {
  WireDefinition,
  WireDefinitionDetail,
  WireDefinitionIssue,
  WireParamSpec,
  WireStarted,
  WireValidation,
} from '../../../src/wire/api.js';
import { ApiError, requestJson } from './http.js';

export type DefinitionIssue = WireDefinitionIssue;
export type ParamSpec = WireParamSpec;
export type DefinitionView = WireDefinition;
export type DefinitionDetailView = WireDefinitionDetail;

export function listDefinitions(signal?: AbortSignal): Promise<DefinitionView[]> {
  return requestJson<WireDefinition[]>('/job-definitions', { signal });
}

export function getDefinition(id: string, signal?: AbortSignal): Promise<DefinitionDetailView> {
  return requestJson<WireDefinitionDetail>(`/job-definitions/${encodeURIComponent(id)}`, { signal });
}

export function validateDefinition(source: string, signal?: AbortSignal): Promise<WireValidation> {
  return requestJson<WireValidation>('/job-definitions/validate', {
    method: 'POST',
    body: source,
    contentType: 'application/toml',
    signal,
  });
}

export function saveDefinition(source: string): Promise<DefinitionDetailView> {
  return requestJson<WireDefinitionDetail>('/job-definitions', {
    method: 'POST',
    body: source,
    contentType: 'application/toml',
  });
}

export async function deleteDefinition(id: string): Promise<void> {
  await requestJson<unknown>(`/job-definitions/${encodeURIComponent(id)}`, {
    method: 'DELETE',
  });
}

export async function executeDefinition(id: string, params: Record<string, unknown>): Promise<number> {
  return (await requestJson<WireStarted>(`/job-definitions/${encodeURIComponent(id)}/execute`, { method: 'POST', body: { params } }))
    .manager_id;
}

/** Issues carried by an error answer (`error.details.issues`), if any. */
export function issuesOf(err: unknown): DefinitionIssue[] {
  if (!(err instanceof ApiError)) return [];
  const details = err.details;
  if (typeof details !== 'object' || details === null || !('issues' in details)) return [];
  const issues = (details as { issues: unknown }).issues;
  if (!Array.isArray(issues)) return [];
  return issues.filter(
    (i): i is DefinitionIssue => typeof i === 'object' && i !== null && typeof (i as { message?: unknown }).message === 'string',
  );
}

/** "line 12: path: message" (or without the line when the issue has none). */
export function issueText(i: DefinitionIssue): string {
  const where = i.line !== undefined ? `line ${i.line}${i.column !== undefined ? `:${i.column}` : ''}` : null;
  return [where, i.path || null, i.message].filter((x) => x !== null && x !== '').join(': ');
}

/** A form value converted to the param's type; an error message when it does not convert. */
export function parseParam(spec: ParamSpec, raw: string | boolean): { ok: true; value: unknown } | { ok: false; message: string } {
  if (spec.type === 'boolean') return { ok: true, value: raw === true || raw === 'true' };
  const text = String(raw);
  if (spec.type === 'string') return { ok: true, value: text };
  const n = Number(text.trim());
  if (text.trim() === '' || !Number.isFinite(n)) return { ok: false, message: 'expected a number' };
  if (spec.type === 'integer' && !Number.isInteger(n)) return { ok: false, message: 'expected a whole number' };
  return { ok: true, value: n };
}
