/**
 * Fetches one page for the crawler and turns every outcome into a finding: a status, a redirect, a
 * timeout, a connection error. Only the job's own cancellation escapes as an exception.
 */
import { TextDecoder } from 'node:util';
import { errorMessage } from '../core/errors.js';
import { abortReason } from './abortable-sleep.js';
import { HtmlExtractor } from './html-extract.js';
import { charsetOf } from './response-body.js';

/** HTML beyond this is not parsed (the page is recorded, marked `truncated`). */
const MAX_HTML_BYTES = 10 * 1024 * 1024;

// A type alias, not an interface: results must be assignable to JsonValue (interfaces have no index signature).
export type FetchedPage = {
  final_url: string | null;
  status: number | null;
  content_type: string | null;
  html: boolean;
  title: string | null;
  text_length: number | null;
  links: string[];
  links_truncated: boolean;
  /** Body bytes (Content-Length when the body was not read), null when unknown. */
  size: number | null;
  truncated: boolean;
  redirected: boolean;
  elapsed_ms: number;
  error: string | null;
  timed_out: boolean;
};

function isHtml(contentType: string | null): boolean {
  const media = contentType?.split(';')[0]?.trim().toLowerCase();
  return media === 'text/html' || media === 'application/xhtml+xml';
}

/** `ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:9`, rather than undici's bare "fetch failed". */
export function describeFetchError(err: unknown): string {
  const cause = (err as { cause?: unknown } | null)?.cause;
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code;
    return typeof code === 'string' && !cause.message.includes(code) ? `${code}: ${cause.message}` : cause.message;
  }
  return errorMessage(err);
}

export async function fetchPage(params: {
  url: string;
  timeoutMs: number;
  userAgent: string;
  maxLinks: number;
  signal: AbortSignal;
}): Promise<FetchedPage> {
  const page: FetchedPage = {
    final_url: null,
    status: null,
    content_type: null,
    html: false,
    title: null,
    text_length: null,
    links: [],
    links_truncated: false,
    size: null,
    truncated: false,
    redirected: false,
    elapsed_ms: 0,
    error: null,
    timed_out: false,
  };
  const timeout = AbortSignal.timeout(params.timeoutMs);
  const signal = AbortSignal.any([params.signal, timeout]);
  const started = performance.now();
  try {
    const res = await fetch(params.url, {
      redirect: 'follow',
      signal,
      headers: {
        'user-agent': params.userAgent,
        accept: 'text/html,application/xhtml+xml;q=0.9,*/*;q=0.8',
      },
    });
    page.final_url = res.url || params.url;
    page.status = res.status;
    page.redirected = res.redirected;
    page.content_type = res.headers.get('content-type');
    page.html = isHtml(page.content_type);
    const declared = Number(res.headers.get('content-length') ?? Number.NaN);

    if (page.html && res.ok && res.body) {
      const extractor = new HtmlExtractor(page.final_url, params.maxLinks);
      let decoder: TextDecoder;
      try {
        decoder = new TextDecoder(charsetOf(page.content_type) ?? 'utf-8');
      } catch {
        decoder = new TextDecoder('utf-8');
      }
      let size = 0;
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        size += chunk.byteLength;
        if (size > MAX_HTML_BYTES) {
          page.truncated = true;
          break;
        }
        extractor.write(decoder.decode(chunk, { stream: true }));
      }
      extractor.write(decoder.decode());
      const facts = extractor.end();
      page.size = page.truncated && Number.isFinite(declared) ? declared : size;
      page.title = facts.title;
      page.text_length = facts.textLength;
      page.links = facts.links;
      page.links_truncated = facts.linksTruncated;
    } else if (Number.isFinite(declared) && declared >= 0) {
      // Not parsed: no need to download what the server already sized.
      page.size = declared;
      await res.body?.cancel();
    } else if (res.body) {
      let size = 0;
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) size += chunk.byteLength;
      page.size = size;
    } else {
      page.size = 0;
    }
  } catch (err) {
    if (params.signal.aborted) throw abortReason(params.signal);
    if (timeout.aborted) {
      page.error = `timed out after ${params.timeoutMs} ms`;
      page.timed_out = true;
    } else {
      page.error = describeFetchError(err);
    }
  }
  page.elapsed_ms = Math.round(performance.now() - started);
  return page;
}
