/**
 * robots.txt for the crawler, fetched once per origin per run and shared by every crawl job of that
 * run in this process. Outcomes, after RFC 9309: a 2xx body is obeyed; a 4xx means no rules (crawl
 * everything); a 5xx means "assume complete disallow", which the crawler records as a robots skip with
 * the reason, so the report shows it.
 *
 * One deliberate difference: when robots.txt cannot be fetched at all (connection refused, DNS
 * failure, timeout), the RFC also says "disallow", but then a dead link would be reported as "skipped
 * by robots" instead of as broken. The crawler treats it as "no rules" and lets the page fetch record
 * the real error; that costs at most one more request to a host that did not answer. Before giving
 * up it tries robots.txt three times, so a dropped connection does not lift a site's rules for a run.
 */
import robotsParserModule from 'robots-parser';
import { errorMessage } from '../core/errors.js';
import { abortReason } from './abortable-sleep.js';

export interface RobotsRules {
  isAllowed(url: string): boolean;
  /** Crawl-delay for our user agent, in milliseconds. */
  crawlDelayMs: number | undefined;
  /** Why every URL is disallowed (robots.txt answered 5xx), if that is the case. */
  unreachable: string | undefined;
  /** Set when robots.txt could not be fetched (rules then allow everything). */
  fetchError?: string;
}

export type FetchText = (url: string) => Promise<{ status: number; text: string }>;

// The package is CommonJS (`module.exports = fn`) but its types declare an ES default export.
const robotsParser = robotsParserModule as unknown as typeof robotsParserModule.default;

const MAX_ROBOTS_BYTES = 500 * 1024; // RFC 9309: crawlers must parse at least 500 KiB
const MAX_CACHED = 10_000;
const cache = new Map<string, Promise<RobotsRules>>();

const ALLOW_ALL: RobotsRules = { isAllowed: () => true, crawlDelayMs: undefined, unreachable: undefined };

/**
 * Waits between attempts at robots.txt when it could not be fetched at all. The answer holds for the
 * whole run, so one dropped keep-alive connection must not lift the site's rules: try a few times.
 */
export const ROBOTS_RETRY_DELAYS_MS = [100, 500];

async function load(params: { origin: string; userAgent: string; fetchText: FetchText }): Promise<RobotsRules> {
  const robotsUrl = `${params.origin}/robots.txt`;
  let response: { status: number; text: string } | undefined;
  for (let attempt = 0; response === undefined; attempt++) {
    try {
      response = await params.fetchText(robotsUrl);
    } catch (err) {
      const wait = ROBOTS_RETRY_DELAYS_MS[attempt];
      if (wait === undefined) return { ...ALLOW_ALL, fetchError: `robots.txt unreachable: ${errorMessage(err)}` };
      await new Promise((r) => setTimeout(r, wait));
    }
  }
  if (response.status >= 500) {
    const reason = `robots.txt answered HTTP ${response.status}`;
    return { isAllowed: () => false, crawlDelayMs: undefined, unreachable: reason };
  }
  if (response.status >= 400) return ALLOW_ALL;
  if (response.status < 200 || response.status >= 300) return ALLOW_ALL;
  const robots = robotsParser(robotsUrl, response.text.slice(0, MAX_ROBOTS_BYTES));
  const delay = robots.getCrawlDelay(params.userAgent);
  return {
    // undefined: the URL is not on this origin, which the caller never asks.
    isAllowed: (url) => robots.isAllowed(url, params.userAgent) !== false,
    crawlDelayMs: delay !== undefined && Number.isFinite(delay) ? delay * 1000 : undefined,
    unreachable: undefined,
  };
}

/**
 * The rules for `origin` within one run (`runKey`). Concurrent callers share one fetch; the fetch is
 * not tied to any one job's signal (a cancelled job must not poison the cache for the others), but
 * each caller stops waiting when its own signal aborts.
 */
export async function robotsFor(params: {
  runKey: string;
  origin: string;
  userAgent: string;
  fetchText: FetchText;
  signal: AbortSignal;
}): Promise<RobotsRules> {
  const key = `${params.runKey} ${params.origin}`;
  let pending = cache.get(key);
  if (!pending) {
    if (cache.size >= MAX_CACHED) {
      const oldest = cache.keys().next();
      if (!oldest.done) cache.delete(oldest.value);
    }
    pending = load(params);
    cache.set(key, pending);
  }
  const { signal } = params;
  if (signal.aborted) throw abortReason(signal);
  return new Promise<RobotsRules>((resolve, reject) => {
    const onAbort = (): void => reject(abortReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    pending.then(
      (rules) => {
        signal.removeEventListener('abort', onAbort);
        resolve(rules);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}
