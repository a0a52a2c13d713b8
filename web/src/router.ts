/**
 * Routes live in the URL hash (`#/runs/12/steps/34?status=failed&job=56`), filters in its query, so
 * every view is a link and the server needs no fallback route. `setQuery` replaces the entry (typing
 * in a search box does not fill the history); `navigate` pushes one.
 */
import { useSyncExternalStore } from 'react';

export type Route =
  | { name: 'runs' }
  | { name: 'run'; runId: number }
  | { name: 'step'; runId: number; stepId: number }
  | { name: 'definitions' }
  | { name: 'definition'; definitionId: string }
  | { name: 'new-definition' }
  | { name: 'not-found'; path: string };

export interface Location {
  path: string;
  query: URLSearchParams;
  route: Route;
}

function parseId(s: string | undefined): number | null {
  if (s === undefined || !/^\d+$/.test(s)) return null;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : null;
}

export function matchRoute(path: string): Route {
  const parts = path.split('/').filter((p) => p !== '');
  const [a, b, c, d] = parts;
  if (parts.length === 0 || (a === 'runs' && parts.length === 1)) return { name: 'runs' };
  if (a === 'runs' && parts.length === 2) {
    const runId = parseId(b);
    if (runId !== null) return { name: 'run', runId };
  }
  if (a === 'runs' && c === 'steps' && parts.length === 4) {
    const runId = parseId(b);
    const stepId = parseId(d);
    if (runId !== null && stepId !== null) return { name: 'step', runId, stepId };
  }
  if (a === 'definitions' && parts.length === 1) return { name: 'definitions' };
  if (a === 'definitions' && b === 'new' && parts.length === 2) return { name: 'new-definition' };
  if (a === 'definitions' && parts.length === 2 && b !== undefined) {
    try {
      return { name: 'definition', definitionId: decodeURIComponent(b) };
    } catch {
      return { name: 'not-found', path };
    }
  }
  return { name: 'not-found', path };
}

function read(): Location {
  const hash = window.location.hash.replace(/^#/, '');
  const q = hash.indexOf('?');
  const path = q === -1 ? hash : hash.slice(0, q);
  const query = new URLSearchParams(q === -1 ? '' : hash.slice(q + 1));
  return { path: path || '/runs', query, route: matchRoute(path) };
}

let current = read();
const listeners = new Set<() => void>();

function refresh(): void {
  const next = read();
  if (next.path === current.path && next.query.toString() === current.query.toString()) return;
  current = next;
  for (const l of listeners) l();
}

window.addEventListener('hashchange', refresh);
window.addEventListener('popstate', refresh);

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function useLocation(): Location {
  return useSyncExternalStore(subscribe, () => current);
}

export function href(path: string, query?: Record<string, string | number | null | undefined>): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) {
    if (v !== undefined && v !== null && v !== '') params.set(k, String(v));
  }
  const qs = params.toString();
  return `#${path}${qs ? `?${qs}` : ''}`;
}

export function navigate(path: string, query?: Record<string, string | number | null | undefined>): void {
  const target = href(path, query);
  if (window.location.hash === target) return;
  window.location.hash = target;
}

/** Changes some query values of the current route in place (null or '' removes one). */
export function setQuery(patch: Record<string, string | number | null | undefined>, opts: { push?: boolean } = {}): void {
  const query = new URLSearchParams(current.query);
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined || v === null || v === '') query.delete(k);
    else query.set(k, String(v));
  }
  const qs = query.toString();
  const url = `${window.location.pathname}${window.location.search}#${current.path}${qs ? `?${qs}` : ''}`;
  if (opts.push) window.history.pushState(null, '', url);
  else window.history.replaceState(null, '', url);
  refresh();
}
