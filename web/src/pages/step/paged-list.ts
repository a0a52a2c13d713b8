/**
 * The worker list of one step as a sparse array of fixed-size pages, fetched by cursor as the visible
 * range needs them, with a bounded cache (MAX_PAGES pages; pages on screen are never evicted).
 *
 * The server pages by keyset cursor, so page k can only be fetched with the cursor page k-1 returned:
 * every cursor seen is kept (a few bytes each, ~5,000 for a million jobs), and a jump past the known
 * ones walks forward page by page, showing placeholders until it arrives.
 *
 * Live state: the socket delivers status changes of the ids on screen (`view`); they are kept in an
 * overlay applied over the pages, newest wins (an overlay entry older than the page's fetch is
 * ignored). A page that leaves the screen while the step runs no longer hears its changes, so it is
 * marked stale and fetched again if it comes back; when the step ends, every page is dropped once and
 * what is on screen is fetched again, so the list ends exact.
 */
import type { JobStatusChangePayload } from '../../../../src/wire/live.js';
import { listJobs, withStatusChange, type JobView } from '../../api/jobs.js';
import { isAbort } from '../../api/http.js';
import type { Status } from '../../status.js';

/** Rows per request. Larger pages make a jump far into a long list take fewer requests (see above). */
export const PAGE_SIZE = 500;
/** ~10,000 rows held at most. */
const MAX_PAGES = 20;
/** An incomplete last page (the list grew since) is fetched again at most this often while shown. */
const TAIL_REFRESH_MS = 1000;
const MAX_OVERLAY = 5000;

interface Page {
  rows: JobView[];
  /** When the request was sent: pushes received after this are newer than the rows. */
  fetchedAt: number;
  stale: boolean;
}

interface Override {
  change: JobStatusChangePayload;
  receivedAt: number;
}

export interface ListQuery {
  stepId: number;
  statuses: readonly Status[];
  q: string;
}

export class PagedJobList {
  private readonly pages = new Map<number, Page>();
  /** cursors.get(k): the cursor that fetches page k (page 0: null). */
  private readonly cursors = new Map<number, string | null>([[0, null]]);
  /** The last page, once a page came back without a next cursor. */
  private endPage: number | null = null;
  private readonly overlay = new Map<number, Override>();
  private wanted = { from: 0, to: 0 };
  private expected: number | null = null;
  private pumping = false;
  /** Identifies the current fetch loop; an aborted loop must not clear a newer loop's flag. */
  private loop = 0;
  private abort: AbortController | null = null;
  private tailTimer: ReturnType<typeof setTimeout> | null = null;
  private disposed = false;
  private readonly listeners = new Set<() => void>();
  error: unknown = null;
  /** Bumped on every change, for React's useSyncExternalStore. */
  version = 0;
  /** While a jump walks towards a page whose cursor is not known yet: where the walk is. */
  seeking: { page: number; target: number } | null = null;
  /** Requests sent so far (shown nowhere; the tests read it to check the list stays frugal). */
  requests = 0;

  constructor(readonly query: ListQuery) {}

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  dispose(): void {
    this.disposed = true;
    this.abort?.abort();
    if (this.tailTimer) clearTimeout(this.tailTimer);
    this.listeners.clear();
  }

  private changed(): void {
    this.version++;
    for (const l of this.listeners) l();
  }

  /** Rows expected in the list (from the step's counts), or null when unknown (a text search). */
  setExpected(count: number | null): void {
    if (count === this.expected) return;
    this.expected = count;
    this.pump();
  }

  /** Rows to show: the expected count, or, when unknown, what has loaded plus a page to reach for. */
  count(): number {
    if (this.expected !== null) return this.expected;
    if (this.endPage !== null) {
      const last = this.pages.get(this.endPage);
      if (last) return this.endPage * PAGE_SIZE + last.rows.length;
    }
    let loaded = 0;
    while (this.pages.has(loaded)) loaded++;
    return loaded * PAGE_SIZE + (this.endPage === null ? PAGE_SIZE : 0);
  }

  /** Whether the list is known to end before `count()` (the counts ran ahead of the pages). */
  endIndex(): number | null {
    if (this.endPage === null) return null;
    const last = this.pages.get(this.endPage);
    return last ? this.endPage * PAGE_SIZE + last.rows.length : null;
  }

  /** The row at `index` with the pushed status applied, or undefined while its page loads. */
  row(index: number): JobView | undefined {
    const page = this.pages.get(Math.floor(index / PAGE_SIZE));
    const job = page?.rows[index % PAGE_SIZE];
    if (!page || !job) return undefined;
    const o = this.overlay.get(job.id);
    return o && o.receivedAt >= page.fetchedAt ? withStatusChange(job, o.change) : job;
  }

  /** The rows on screen changed: fetch what they need. */
  setRange(first: number, last: number): void {
    const from = Math.max(0, Math.floor(first / PAGE_SIZE));
    const to = Math.max(from, Math.floor(Math.max(first, last) / PAGE_SIZE));
    if (from === this.wanted.from && to === this.wanted.to) return;
    for (const [k, p] of this.pages) {
      const wasShown = k >= this.wanted.from && k <= this.wanted.to;
      const shown = k >= from && k <= to;
      if (wasShown && !shown && this.live) p.stale = true;
    }
    this.wanted = { from, to };
    this.pump();
  }

  /** Whether the step still runs (pages off screen then go stale). */
  live = true;

  /** Ids of the loaded rows in [first, last], for the server's `view`. */
  idsIn(first: number, last: number): number[] {
    const ids: number[] = [];
    for (let i = first; i <= last; i++) {
      const r = this.row(i);
      if (r) ids.push(r.id);
    }
    return ids;
  }

  applyChanges(changes: JobStatusChangePayload[]): void {
    if (changes.length === 0) return;
    const now = Date.now();
    for (const c of changes) {
      this.overlay.delete(c.job_id);
      this.overlay.set(c.job_id, { change: c, receivedAt: now });
    }
    while (this.overlay.size > MAX_OVERLAY) {
      const oldest = this.overlay.keys().next().value;
      if (oldest === undefined) break;
      this.overlay.delete(oldest);
    }
    this.changed();
  }

  /** Drop every page (after a resync, or once when the step ends): what is on screen loads again. */
  invalidate(): void {
    this.abort?.abort();
    this.pumping = false;
    this.loop++;
    for (const p of this.pages.values()) p.stale = true;
    // Keep the rows for display while they reload. An unfiltered list only grows at its end, so its
    // cursors stay right; a filtered one may have gained or lost rows anywhere, so its cursors past
    // page 0 could skip or repeat rows.
    if (this.query.statuses.length > 0 || this.query.q !== '') {
      this.cursors.clear();
      this.cursors.set(0, null);
    }
    this.endPage = null;
    this.overlay.clear();
    this.pump();
  }

  private needsFetch(k: number): boolean {
    const p = this.pages.get(k);
    if (!p) return this.endPage === null || k <= this.endPage;
    if (p.stale) return true;
    return false;
  }

  /** The incomplete last page when the counts say more rows exist: fetch it again (throttled). */
  private tailDue(k: number): boolean {
    const p = this.pages.get(k);
    if (!p || p.rows.length >= PAGE_SIZE || this.expected === null) return false;
    if (k * PAGE_SIZE + p.rows.length >= this.expected) return false;
    const wait = p.fetchedAt + TAIL_REFRESH_MS - Date.now();
    if (wait <= 0) return true;
    if (!this.tailTimer) {
      this.tailTimer = setTimeout(() => {
        this.tailTimer = null;
        this.pump();
      }, wait);
    }
    return false;
  }

  /** The next page to request: a wanted page (or the one a walk towards it needs). */
  private nextFetch(): number | null {
    const { from, to } = this.wanted;
    const limit = this.expected !== null ? Math.max(0, Math.ceil(this.expected / PAGE_SIZE) - 1) : Number.MAX_SAFE_INTEGER;
    for (let k = from; k <= Math.min(to, limit); k++) {
      if (!this.needsFetch(k) && !this.tailDue(k)) continue;
      if (this.cursors.has(k)) {
        this.seeking = null;
        return k;
      }
      // Walk: the highest page below k whose cursor is known.
      let j = k - 1;
      while (j > 0 && !this.cursors.has(j)) j--;
      this.seeking = { page: j, target: k };
      return j;
    }
    return null;
  }

  pump(): void {
    if (this.pumping || this.disposed) return;
    this.pumping = true;
    void this.run(++this.loop);
  }

  private async run(loop: number): Promise<void> {
    try {
      for (;;) {
        if (this.disposed || loop !== this.loop) return;
        const k = this.nextFetch();
        if (k === null) {
          if (this.seeking !== null) {
            this.seeking = null;
            this.changed();
          }
          break;
        }
        await this.fetchPage(k);
      }
      this.error = null;
    } catch (err) {
      if (!isAbort(err)) {
        this.error = err;
        this.changed();
      }
    } finally {
      if (loop === this.loop) this.pumping = false;
    }
  }

  private async fetchPage(k: number): Promise<void> {
    const cursor = this.cursors.get(k);
    if (cursor === undefined) throw new Error(`no cursor for page ${k}`);
    const ctrl = new AbortController();
    this.abort = ctrl;
    const fetchedAt = Date.now();
    this.requests++;
    const page = await listJobs(
      {
        stepId: this.query.stepId,
        kind: 'worker',
        statuses: this.query.statuses,
        q: this.query.q || undefined,
        limit: PAGE_SIZE,
        cursor,
        order: 'asc',
      },
      ctrl.signal,
    );
    if (this.disposed || ctrl.signal.aborted) return;
    this.pages.delete(k);
    this.pages.set(k, { rows: page.data, fetchedAt, stale: false });
    if (page.nextCursor !== null && page.data.length > 0) {
      this.cursors.set(k + 1, page.nextCursor);
      if (this.endPage !== null && this.endPage <= k) this.endPage = null;
    } else {
      this.endPage = k;
      for (const key of [...this.pages.keys()]) if (key > k) this.pages.delete(key);
      for (const key of [...this.cursors.keys()]) if (key > k) this.cursors.delete(key);
    }
    this.evict();
    this.changed();
  }

  private evict(): void {
    if (this.pages.size <= MAX_PAGES) return;
    for (const k of this.pages.keys()) {
      if (this.pages.size <= MAX_PAGES) break;
      if (k >= this.wanted.from && k <= this.wanted.to) continue;
      this.pages.delete(k);
    }
  }

  /** Pages held now (for tests and the footer). */
  cachedPages(): number {
    return this.pages.size;
  }
}
