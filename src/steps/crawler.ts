/**
 * `crawler`: a polite link checker and page indexer. `plan` yields one job per start URL; each job
 * fetches one page (after checking robots.txt), records what it found, and spawns one child job per
 * new in-scope link. Job keys are normalized URLs, so the store deduplicates pages per step, however
 * many pages link to them and however many jobs run at once.
 *
 * Broken links, error statuses, request timeouts (`request_timeout`) and robots exclusions are
 * results, not failures: they are what a crawl is run to find. A job fails only on a malformed payload,
 * cancellation, or the step option `timeout` (the whole job, waits for the host included).
 *
 * `max_pages` is enforced per process: a module-level counter per step (keyed by step id) admits at
 * most `max_pages` jobs (start URLs plus spawned pages) from this process. A step crawled by several
 * worker processes can therefore reach up to `max_pages` times the number of processes, and a worker
 * restarted mid-crawl starts counting again. The store has no per-step counter a step type can
 * reserve from; when it gets one, this becomes exact.
 */
import { z } from 'zod';
import type { JsonValue } from '../core/job.js';
import { defineStepType, type WorkerSpec } from '../core/step-type.js';
import { fetchPage, describeFetchError } from './crawl-fetch.js';
import { normalizeUrl } from './crawl-url.js';
import { durationSchema } from './duration.js';
import { acquireHost } from './host-limiter.js';
import { readCapped } from './response-body.js';
import { robotsFor, type RobotsRules } from './robots-cache.js';

const httpUrl = z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' });

const regexList = z
  .union([z.string(), z.array(z.string())])
  .transform((v) => (typeof v === 'string' ? [v] : v))
  .superRefine((patterns, ctx) => {
    patterns.forEach((p, i) => {
      try {
        new RegExp(p);
      } catch (err) {
        ctx.addIssue({ code: 'custom', path: [i], message: `not a regular expression: ${(err as Error).message}` });
      }
    });
  });

export const crawlerConfig = z.strictObject({
  start_urls: z.union([httpUrl, z.array(httpUrl).min(1)]).transform((v) => (typeof v === 'string' ? [v] : v)),
  /** Regular expressions (JavaScript syntax, unanchored) a link must match one of to be followed. */
  include_patterns: regexList.default([]),
  /** A link matching any of these is not followed. */
  exclude_patterns: regexList.default([]),
  max_depth: z.number().int().nonnegative().default(3),
  max_pages: z.number().int().positive().default(1000),
  same_origin: z.boolean().default(true),
  /*
   * Politeness and request limits. Not named `rate`/`concurrency`/`timeout`: `timeout` and
   * `concurrency` are options every step takes (the worker job's timeout and how many of the step's
   * jobs run at once), which the definitions layer keeps for itself and never passes to the type.
   */
  /** Request starts per second, per host. */
  per_host_rate: z.number().positive().default(5),
  /** Requests in flight per host (per worker process). */
  per_host_concurrency: z.number().int().positive().default(2),
  /** Per request (robots.txt or page), body included. */
  request_timeout: durationSchema().default(10_000),
  user_agent: z.string().min(1).default('stepq-crawler/0.1'),
  respect_robots: z.boolean().default(true),
});

export type CrawlerConfig = z.output<typeof crawlerConfig>;

const crawlPayload = z.object({
  url: z.string().min(1),
  depth: z.number().int().nonnegative(),
  from: z.string().nullable().default(null),
});

/** Links recorded per page at most; a page with more is marked `links_truncated`. */
const MAX_LINKS_PER_PAGE = 10_000;
/** Longest Crawl-delay honoured (a robots.txt asking for more gets this). */
const MAX_CRAWL_DELAY_MS = 30_000;

/** Jobs admitted per step in this process (see the file header). */
class PageBudget {
  admitted: number;
  constructor(
    private readonly max: number,
    initial: number,
  ) {
    this.admitted = initial;
  }
  /** Reserves up to `wanted` admissions; give back the unused part with `refund`. */
  reserve(wanted: number): number {
    const granted = Math.max(0, Math.min(wanted, this.max - this.admitted));
    this.admitted += granted;
    return granted;
  }
  refund(unused: number): void {
    this.admitted -= unused;
  }
}

const budgets = new Map<number, PageBudget>();
const MAX_BUDGETS = 1000;

function budgetFor(stepId: number, config: CrawlerConfig): PageBudget {
  let budget = budgets.get(stepId);
  if (!budget) {
    if (budgets.size >= MAX_BUDGETS) {
      const oldest = budgets.keys().next();
      if (!oldest.done) budgets.delete(oldest.value);
    }
    const starts = new Set(config.start_urls.map((u) => normalizeUrl(u))).size;
    budget = new PageBudget(config.max_pages, starts);
    budgets.set(stepId, budget);
  }
  return budget;
}

function scopeFilter(config: CrawlerConfig): (link: string) => boolean {
  const origins = new Set(config.start_urls.map((u) => new URL(u).origin));
  const include = config.include_patterns.map((p) => new RegExp(p));
  const exclude = config.exclude_patterns.map((p) => new RegExp(p));
  return (link) => {
    if (config.same_origin && !origins.has(new URL(link).origin)) return false;
    if (include.length > 0 && !include.some((re) => re.test(link))) return false;
    return !exclude.some((re) => re.test(link));
  };
}

export const crawlerStep = defineStepType<CrawlerConfig>({
  name: 'crawler',
  description: 'Crawl web pages from start URLs: statuses, titles, links, broken links; polite per host.',
  config: crawlerConfig,

  plan(ctx) {
    const specs: WorkerSpec[] = [];
    for (const start of ctx.config.start_urls) {
      const url = normalizeUrl(start);
      if (url === undefined) throw new Error(`crawler: start URL ${start} is not an http(s) URL`);
      specs.push({ key: url, name: url, payload: { url, depth: 0, from: null } });
    }
    return [specs];
  },

  async run(job, ctx): Promise<JsonValue> {
    const parsed = crawlPayload.safeParse(job.payload);
    if (!parsed.success) throw new Error(`crawler: payload must be { url, depth, from }: ${z.prettifyError(parsed.error)}`);
    const { url, depth, from } = parsed.data;
    const config = ctx.config;
    const target = new URL(url);
    const budget = budgetFor(ctx.run.stepId, config);
    const intervalMs = 1000 / config.per_host_rate;

    let robots: RobotsRules | undefined;
    if (config.respect_robots) {
      robots = await robotsFor({
        runKey: String(ctx.run.managerId),
        origin: target.origin,
        userAgent: config.user_agent,
        signal: ctx.signal,
        fetchText: async (robotsUrl) => {
          // Not tied to this job's signal: the answer is shared with the other jobs of the run.
          const release = await acquireHost({
            host: target.host,
            concurrency: config.per_host_concurrency,
            intervalMs,
            signal: AbortSignal.timeout(config.request_timeout * 10),
          });
          try {
            const res = await fetch(robotsUrl, {
              redirect: 'follow',
              signal: AbortSignal.timeout(config.request_timeout),
              headers: { 'user-agent': config.user_agent },
            });
            const body = await readCapped(res.body, 512 * 1024);
            return { status: res.status, text: body.bytes.toString('utf8') };
          } catch (err) {
            throw new Error(describeFetchError(err), { cause: err });
          } finally {
            release();
          }
        },
      });
      if (robots.fetchError !== undefined) ctx.log('debug', `${robots.fetchError}; crawling ${target.origin} without rules`);
      if (!robots.isAllowed(url)) {
        ctx.log('info', `skipped ${url}: ${robots.unreachable ?? 'disallowed by robots.txt'}`);
        return { url, depth, from, skipped: 'robots', reason: robots.unreachable ?? 'disallowed by robots.txt' };
      }
    }

    const release = await acquireHost({
      host: target.host,
      concurrency: config.per_host_concurrency,
      intervalMs: Math.max(intervalMs, Math.min(robots?.crawlDelayMs ?? 0, MAX_CRAWL_DELAY_MS)),
      signal: ctx.signal,
    });
    let page;
    try {
      page = await fetchPage({
        url,
        timeoutMs: config.request_timeout,
        userAgent: config.user_agent,
        maxLinks: MAX_LINKS_PER_PAGE,
        signal: ctx.signal,
      });
    } finally {
      release();
    }
    ctx.log(
      page.error === null && (page.status ?? 0) < 400 ? 'info' : 'warn',
      `${page.status ?? '---'} ${url}${page.redirected ? ` -> ${page.final_url}` : ''}${page.error ? ` (${page.error})` : ''}`,
    );

    if (depth < config.max_depth && page.links.length > 0) {
      const inScope = scopeFilter(config);
      const candidates = page.links.filter((link) => link !== url && inScope(link));
      let next = 0;
      while (next < candidates.length) {
        const granted = budget.reserve(candidates.length - next);
        if (granted === 0) {
          ctx.log('info', `max_pages = ${config.max_pages} reached: ${candidates.length - next} link(s) not followed`);
          break;
        }
        const slice = candidates.slice(next, next + granted);
        next += slice.length;
        const { created } = await ctx.spawn(
          slice.map((link) => ({ key: link, name: link, payload: { url: link, depth: depth + 1, from: url } })),
        );
        budget.refund(slice.length - created);
      }
    }

    return { url, depth, from, ...page };
  },
});
