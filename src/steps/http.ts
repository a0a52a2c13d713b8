/**
 * `http`: one request per item (from `items`, from a dependency's results with `from_step`, or a
 * single request). Rate limiting answers (429) and server errors (5xx) are retried inside the job,
 * honouring `Retry-After`; other failures throw, so the step's own `retries` policy applies to them.
 */
import { z } from 'zod';
import type { JsonValue } from '../core/job.js';
import { backoffDelay } from '../core/backoff.js';
import { defineStepType } from '../core/step-type.js';
import { abortReason, abortableSleep } from './abortable-sleep.js';
import { describeFetchError } from './crawl-fetch.js';
import { durationSchema } from './duration.js';
import { checkItemSource, itemSourceShape, parseItemPayload, planItems } from './item-fanout.js';
import { charsetOf, decodePreview, readCapped } from './response-body.js';
import { checkTemplate, jsonStrings, renderJsonTemplate, renderTemplate, templateString } from './template.js';

export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

/** No retry waits longer than this, whatever Retry-After asks. */
export const MAX_RETRY_DELAY_MS = 60_000;
const PREVIEW_BYTES = 4096;

export const httpConfig = z
  .strictObject({
    ...itemSourceShape,
    method: z.enum(HTTP_METHODS).default('GET'),
    /** Template: `https://api.example.com/users/{{item.id}}`. */
    url: templateString(),
    /** A template string sent as is, or JSON (templates inside its strings) sent as application/json. */
    body: z.json().optional(),
    headers: z.record(z.string(), templateString()).default({}),
    /**
     * Per request attempt, body preview included. Not `timeout`: that is the option every step takes
     * (the whole worker job, retries and waits included), which never reaches the step type.
     */
    request_timeout: durationSchema().default(30_000),
    /** Statuses that count as success (default: any status below 400). Listed statuses are never retried. */
    expect_status: z.array(z.number().int().min(100).max(599)).min(1).optional(),
    /** Retries of 429 and 5xx answers within one attempt of the job. */
    max_retries: z.number().int().min(0).max(20).default(3),
    /** Base of the exponential delay between retries when the server sends no Retry-After. */
    retry_delay: durationSchema().default(1000),
  })
  .superRefine((config, ctx) => {
    checkItemSource(config, ctx);
    if (config.body !== undefined) {
      if (config.method === 'GET' || config.method === 'HEAD') {
        ctx.addIssue({ code: 'custom', path: ['body'], message: `a ${config.method} request cannot have a body` });
      }
      for (const text of jsonStrings(config.body as JsonValue)) {
        const problem = checkTemplate(text);
        if (problem) ctx.addIssue({ code: 'custom', path: ['body'], message: problem });
      }
    }
  });

export type HttpConfig = z.output<typeof httpConfig>;

/** Milliseconds a Retry-After header asks for (delta-seconds or an HTTP date), or undefined. */
export function retryAfterMs(value: string | null, now = Date.now()): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function renderUrl(template: string, scope: Parameters<typeof renderTemplate>[1]): string {
  const text = renderTemplate(template, scope);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`http: "${text}" (from url = "${template}") is not an absolute URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`http: ${text} is not an http(s) URL`);
  return url.href;
}

export const httpStep = defineStepType<HttpConfig>({
  name: 'http',
  description: 'Send one HTTP request per item, retrying 429 and 5xx answers with Retry-After.',
  config: httpConfig,

  plan(ctx) {
    return planItems({ ctx, name: (scope) => `${ctx.config.method} ${renderTemplate(ctx.config.url, scope)}` });
  },

  async run(job, ctx): Promise<JsonValue> {
    const config = ctx.config;
    const scope = parseItemPayload(job.payload);
    const url = renderUrl(config.url, scope);
    const method = config.method;
    const headers: Record<string, string> = {};
    for (const [name, template] of Object.entries(config.headers)) headers[name] = renderTemplate(template, scope);
    let body: string | undefined;
    if (typeof config.body === 'string') body = renderTemplate(config.body, scope);
    else if (config.body !== undefined) {
      body = JSON.stringify(renderJsonTemplate(config.body as JsonValue, scope));
      if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
    }

    const started = performance.now();
    for (let attempt = 1; ; attempt++) {
      if (ctx.signal.aborted) throw abortReason(ctx.signal);
      const timeout = AbortSignal.timeout(config.request_timeout);
      const signal = AbortSignal.any([ctx.signal, timeout]);
      const failed = (err: unknown): Error => {
        if (ctx.signal.aborted) return abortReason(ctx.signal);
        if (timeout.aborted)
          return new Error(`${method} ${url}: timed out after ${config.request_timeout} ms (request_timeout, attempt ${attempt})`);
        return new Error(`${method} ${url}: ${describeFetchError(err)} (attempt ${attempt})`, { cause: err });
      };
      let res: Response;
      try {
        res = await fetch(url, { method, headers, body, signal, redirect: 'follow' });
      } catch (err) {
        throw failed(err);
      }
      const expected = config.expect_status;
      const retryable = (res.status === 429 || res.status >= 500) && !(expected?.includes(res.status) ?? false);
      if (retryable && attempt <= config.max_retries) {
        const asked = retryAfterMs(res.headers.get('retry-after'));
        const delay = Math.min(
          MAX_RETRY_DELAY_MS,
          asked ??
            backoffDelay({
              policy: { type: 'exponential', baseMs: config.retry_delay, maxMs: MAX_RETRY_DELAY_MS },
              attempt,
            }),
        );
        await res.body?.cancel().catch(() => undefined);
        ctx.log('warn', `${method} ${url}: HTTP ${res.status}; retry ${attempt} of ${config.max_retries} in ${delay} ms`);
        await abortableSleep(delay, ctx.signal);
        continue;
      }
      let preview;
      try {
        preview = await readCapped(res.body, PREVIEW_BYTES);
      } catch (err) {
        throw failed(err);
      }
      const contentType = res.headers.get('content-type');
      const text = decodePreview(preview.bytes, preview.truncated, charsetOf(contentType));
      const ok = expected ? expected.includes(res.status) : res.status < 400;
      if (!ok) {
        const why = expected ? ` (expected ${expected.join(', ')})` : '';
        const tries = retryable ? ` after ${attempt} attempts` : '';
        const snippet = text.length > 300 ? `${text.slice(0, 300)}…` : text;
        throw new Error(`${method} ${url}: HTTP ${res.status}${why}${tries}${snippet ? `: ${snippet}` : ''}`);
      }
      return {
        url,
        method,
        status: res.status,
        headers: { 'content-type': contentType, 'content-length': res.headers.get('content-length') },
        body: text,
        body_truncated: preview.truncated,
        elapsed_ms: Math.round(performance.now() - started),
        attempts: attempt,
      };
    }
  },
});
