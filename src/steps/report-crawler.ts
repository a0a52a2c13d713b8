/**
 * The `report` step's section for a `crawler` dependency: pages by status, broken links with the pages
 * that link to them, the slowest pages, robots exclusions and non-HTML resources. Results are read
 * twice, page by page: the first pass finds the broken URLs, the second finds who links to them
 * (which cannot be known before every result was seen, and keeping every page's links would grow with
 * the whole link graph).
 */
import { z } from 'zod';
import type { JsonValue } from '../core/job.js';
import type { StepFailure } from '../core/step-type.js';
import { formatBytes, formatNumber, listCell, table } from './report-markdown.js';

const crawlResult = z.object({
  url: z.string(),
  from: z.string().nullable().optional(),
  skipped: z.string().optional(),
  reason: z.string().optional(),
  status: z.number().nullable().optional(),
  error: z.string().nullable().optional(),
  content_type: z.string().nullable().optional(),
  html: z.boolean().optional(),
  title: z.string().nullable().optional(),
  size: z.number().nullable().optional(),
  elapsed_ms: z.number().optional(),
  redirected: z.boolean().optional(),
  final_url: z.string().nullable().optional(),
  links: z.array(z.string()).optional(),
});

const MAX_LISTED = 1000;
const MAX_REFERRERS = 100;
const REFERRERS_MD = 5;

interface Broken {
  url: string;
  status: number | null;
  error: string | null;
  referrers: string[];
  referrer_count: number;
}

export class CrawlerReport {
  private pages = 0;
  private fetched = 0;
  private redirects = 0;
  private htmlPages = 0;
  private unrecognized = 0;
  private readonly byStatus = new Map<string, number>();
  private readonly broken = new Map<string, Broken>();
  private readonly slowest: Array<{ url: string; elapsed_ms: number; status: number | null }> = [];
  private robotsCount = 0;
  private readonly robots: Array<{ url: string; reason: string | null }> = [];
  private readonly otherSkips = new Map<string, number>();
  private nonHtml = 0;
  private readonly nonHtmlTypes = new Map<string, { count: number; bytes: number }>();
  private failureCount = 0;
  private readonly failures: Array<{ url: string; error: string }> = [];

  constructor(private readonly top: number) {}

  /** First pass. */
  add(result: JsonValue): void {
    const parsed = crawlResult.safeParse(result);
    if (!parsed.success) {
      this.unrecognized++;
      return;
    }
    const r = parsed.data;
    this.pages++;
    if (r.skipped !== undefined) {
      if (r.skipped === 'robots') {
        this.robotsCount++;
        if (this.robots.length < MAX_LISTED) this.robots.push({ url: r.url, reason: r.reason ?? null });
      } else this.otherSkips.set(r.skipped, (this.otherSkips.get(r.skipped) ?? 0) + 1);
      this.count(`skipped (${r.skipped})`);
      return;
    }
    const status = r.status ?? null;
    const error = r.error ?? null;
    this.count(status !== null ? String(status) : 'no answer');
    if (status !== null) this.fetched++;
    if (r.redirected) this.redirects++;
    if ((status !== null && status >= 400) || error !== null) {
      this.broken.set(r.url, { url: r.url, status, error, referrers: [], referrer_count: 0 });
    } else if (r.html) this.htmlPages++;
    else if (status !== null) {
      this.nonHtml++;
      const media = r.content_type?.split(';')[0]?.trim().toLowerCase() || 'unknown';
      const t = this.nonHtmlTypes.get(media) ?? { count: 0, bytes: 0 };
      t.count++;
      t.bytes += r.size ?? 0;
      if (this.nonHtmlTypes.size < MAX_LISTED || this.nonHtmlTypes.has(media)) this.nonHtmlTypes.set(media, t);
    }
    if (r.elapsed_ms !== undefined) this.keepSlowest({ url: r.url, elapsed_ms: r.elapsed_ms, status });
  }

  get needsReferrers(): boolean {
    return this.broken.size > 0;
  }

  /** Second pass: records `result` as a referrer of every broken URL it links to. */
  addReferrers(result: JsonValue): void {
    const parsed = crawlResult.safeParse(result);
    if (!parsed.success || !parsed.data.links) return;
    for (const link of parsed.data.links) {
      const b = this.broken.get(link);
      if (!b || link === parsed.data.url) continue;
      b.referrer_count++;
      if (b.referrers.length < MAX_REFERRERS) b.referrers.push(parsed.data.url);
    }
  }

  addFailure(failure: StepFailure): void {
    this.failureCount++;
    if (this.failures.length >= MAX_LISTED) return;
    const payload = failure.payload;
    const url = payload !== null && typeof payload === 'object' && !Array.isArray(payload) ? payload.url : undefined;
    this.failures.push({ url: typeof url === 'string' ? url : failure.name, error: failure.error });
  }

  private count(key: string): void {
    this.byStatus.set(key, (this.byStatus.get(key) ?? 0) + 1);
  }

  private keepSlowest(entry: { url: string; elapsed_ms: number; status: number | null }): void {
    const list = this.slowest;
    if (list.length >= this.top && entry.elapsed_ms <= (list[list.length - 1]?.elapsed_ms ?? 0)) return;
    const at = list.findIndex((e) => e.elapsed_ms < entry.elapsed_ms);
    list.splice(at === -1 ? list.length : at, 0, entry);
    if (list.length > this.top) list.pop();
  }

  finish(): { section: { [k: string]: JsonValue }; summary: { [k: string]: JsonValue }; markdown: string } {
    const broken = [...this.broken.values()].sort((a, b) => b.referrer_count - a.referrer_count || (a.url < b.url ? -1 : 1));
    const byStatus = Object.fromEntries([...this.byStatus.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1)));
    const nonHtmlTypes = [...this.nonHtmlTypes.entries()]
      .sort((a, b) => b[1].count - a[1].count)
      .map(([content_type, t]) => ({ content_type, count: t.count, bytes: t.bytes }));
    const totals = {
      pages: this.pages,
      fetched: this.fetched,
      html_pages: this.htmlPages,
      non_html: this.nonHtml,
      redirects: this.redirects,
      broken: broken.length,
      skipped_robots: this.robotsCount,
      failures: this.failureCount,
      unrecognized_results: this.unrecognized,
    };
    const section = {
      totals,
      by_status: byStatus,
      broken: broken.slice(0, MAX_LISTED).map((b) => ({ ...b })),
      slowest: this.slowest,
      skipped_robots: this.robots,
      skipped_other: Object.fromEntries(this.otherSkips),
      non_html: nonHtmlTypes,
      failures: this.failures,
    };
    return { section, summary: totals, markdown: this.markdown(totals, byStatus, broken, nonHtmlTypes) };
  }

  private markdown(
    totals: Record<string, number>,
    byStatus: Record<string, number>,
    broken: Broken[],
    nonHtml: Array<{ content_type: string; count: number; bytes: number }>,
  ): string {
    const top = this.top;
    const n = (key: string): number => totals[key] ?? 0;
    const out: string[] = [];
    out.push(
      table({
        headers: ['Total', 'Value'],
        numeric: [1],
        rows: [
          ['Pages', n('pages')],
          ['Fetched', n('fetched')],
          ['HTML pages', n('html_pages')],
          ['Non-HTML resources', n('non_html')],
          ['Redirected', n('redirects')],
          ['Broken links', n('broken')],
          ['Skipped by robots.txt', n('skipped_robots')],
          ['Failed jobs', n('failures')],
        ],
      }),
    );
    out.push('### Pages by status\n');
    out.push(table({ headers: ['Status', 'Pages'], numeric: [1], rows: Object.entries(byStatus).map(([s, c]) => [s, c]) }));
    out.push(`### Broken links (${formatNumber(broken.length)})\n`);
    out.push(
      table({
        headers: ['URL', 'Status or error', 'Linked from'],
        rows: broken
          .slice(0, top)
          .map((b) => [b.url, b.error ?? String(b.status), listCell(b.referrers.slice(0, REFERRERS_MD), b.referrer_count)]),
      }),
    );
    out.push(`### Slowest pages\n`);
    out.push(
      table({
        headers: ['URL', 'Time (ms)', 'Status'],
        numeric: [1],
        rows: this.slowest.map((s) => [s.url, s.elapsed_ms, s.status === null ? 'no answer' : String(s.status)]),
      }),
    );
    out.push(`### Skipped by robots.txt (${formatNumber(n('skipped_robots'))})\n`);
    out.push(table({ headers: ['URL', 'Reason'], rows: this.robots.slice(0, top).map((r) => [r.url, r.reason]) }));
    out.push(`### Non-HTML resources\n`);
    out.push(
      table({
        headers: ['Content type', 'Count', 'Size'],
        numeric: [1, 2],
        rows: nonHtml.slice(0, top).map((t) => [t.content_type, t.count, formatBytes(t.bytes)]),
      }),
    );
    if (this.failureCount > 0) {
      out.push(`### Failed jobs (${formatNumber(this.failureCount)})\n`);
      out.push(table({ headers: ['URL', 'Error'], rows: this.failures.slice(0, top).map((f) => [f.url, f.error]) }));
    }
    return out.join('\n');
  }
}
