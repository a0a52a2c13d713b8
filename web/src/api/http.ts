/**
 * The one place the page talks HTTP: JSON in and out, the bearer token, and the server's error shape
 * (`{ error: { code, message, details } }`) turned into an ApiError the views can show.
 */
import type { WireError } from '../../../src/wire/api.js';
import { authToken } from './auth.js';

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: unknown;
  constructor(params: { status: number; code: string; message: string; details?: unknown }) {
    super(params.message);
    this.name = 'ApiError';
    this.status = params.status;
    this.code = params.code;
    this.details = params.details;
  }
}

type Query = Record<string, string | number | boolean | null | undefined | readonly string[]>;

/** `/api/…` plus the query string, leaving out empty values. */
export function apiUrl(path: string, query?: Query): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) {
    if (v === undefined || v === null || v === '') continue;
    if (Array.isArray(v)) {
      if (v.length > 0) params.set(k, v.join(','));
    } else {
      params.set(k, String(v));
    }
  }
  const qs = params.toString();
  return `/api${path}${qs ? `?${qs}` : ''}`;
}

interface RequestOptions {
  method?: 'GET' | 'POST' | 'DELETE';
  query?: Query;
  /** A JSON body, or a string sent with `contentType`. */
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
}

function isWireError(value: unknown): value is WireError {
  if (typeof value !== 'object' || value === null || !('error' in value)) return false;
  const e = (value as { error: unknown }).error;
  return typeof e === 'object' && e !== null && 'code' in e && 'message' in e;
}

async function send(path: string, opts: RequestOptions): Promise<Response> {
  const headers: Record<string, string> = { accept: 'application/json' };
  const token = authToken();
  if (token) headers.authorization = `Bearer ${token}`;
  let body: string | undefined;
  if (opts.body !== undefined) {
    if (typeof opts.body === 'string' && opts.contentType) {
      body = opts.body;
      headers['content-type'] = opts.contentType;
    } else {
      body = JSON.stringify(opts.body);
      headers['content-type'] = 'application/json';
    }
  }
  let res: Response;
  try {
    res = await fetch(apiUrl(path, opts.query), {
      method: opts.method ?? 'GET',
      headers,
      body,
      signal: opts.signal,
    });
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') throw err;
    throw new ApiError({
      status: 0,
      code: 'ERR_NETWORK',
      message: 'The server cannot be reached. Check that stepq serve is running.',
    });
  }
  if (!res.ok) {
    let parsed: unknown = null;
    try {
      parsed = await res.json();
    } catch {
      // Not JSON: fall through to a generic error.
    }
    if (isWireError(parsed)) {
      throw new ApiError({
        status: res.status,
        code: parsed.error.code,
        message: parsed.error.message,
        details: parsed.error.details,
      });
    }
    throw new ApiError({
      status: res.status,
      code: `HTTP_${res.status}`,
      message: `${res.status} ${res.statusText}`,
    });
  }
  return res;
}

export async function requestJson<T>(path: string, opts: RequestOptions = {}): Promise<T> {
  const res = await send(path, opts);
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

/** The body as text (for full payloads and results, shown as text whatever they hold). */
export async function requestText(path: string, opts: RequestOptions = {}): Promise<string> {
  const res = await send(path, opts);
  return res.text();
}

export function isAbort(err: unknown): boolean {
  return err instanceof DOMException && err.name === 'AbortError';
}

export function errorText(err: unknown): string {
  if (err instanceof ApiError) return `${err.message} (${err.code})`;
  if (err instanceof Error) return err.message;
  return String(err);
}
