/**
 * The worker list of one step as a sparse array of fixed-size pages, fetched as the visible range
 * needs them, with a bounded cache (MAX_PAGES pages; pages on screen are never evicted).
 *
 * Page k is fetched with the cursor page k-1 returned when that cursor is known and trusted, and by
 * `offset` (k × PAGE_SIZE) otherwise: a jump anywhere in a million-row list is one request, and
 * scrolling on from there follows cursors (cheaper for the database than a deep offset). A cursor
 * is trusted while the list's membership can only grow at its end: an unfiltered or text-filtered
 * list (names never change, ids only grow), or any list once the step has ended. A status-filtered
 * list of a running step loses and gains rows anywhere, so its pages are fetched by offset, each at
 * its current place.
 *
 * Live state: the socket delivers status changes of the ids on screen (`view`), and the current
 * state of every id as it enters the view (the server pushes it), so rows on screen are current
 * whatever page they came from. The changes sit in an overlay over the pages, newest wins (an entry
 * older than its page's fetch is ignored). A status-filtered page that leaves the screen while the
 * step runs is marked stale (rows may have left or joined it) and fetched again if it comes back.
 * When the step ends, every page is marked stale and what is on screen is fetched once more, so the
 * list ends exact even where pushes cannot reach (see ARCHITECTURE.md).
 */
import type { JobStatusChangePayload } from '../../../../src/wire/live.js';
import { listJobs, withStatusChange, type JobView } from '../../api/jobs.js';
import { isAbort } from '../../api/http.js';
import type { Status } from '../../status.js';

/** Rows per request. */
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
  /** cursors.get(k): the cursor that fetches page k (k ≥ 1), recorded only while cursors are trusted. */
  private readonly cursors = new Map<number, string>();
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
  /** Requests sent so far (shown nowhere; the tests read it to check the list stays frugal). */
  requests = 0;
  /** Whether the step still runs (set by the step page from the step's status). */
  live = true;

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

  /** Whether rows may leave or join the list anywhere (not only at its end) from now on. */
  private membershipMoves(): boolean {
    return this.live && this.query.statuses.length > 0;
  }

  /** The rows on screen changed: fetch what they need. */
  setRange(first: number, last: number): void {
    const from = Math.max(0, Math.floor(first / PAGE_SIZE));
    const to = Math.max(from, Math.floor(Math.max(first, last) / PAGE_SIZE));
    if (from === this.wanted.from && to === this.wanted.to) return;
    // A page off screen hears no more pushes. Its rows' state comes back with the view when they
    // return, but rows that joined or left a status filter meanwhile do not: such a page is stale.
    if (this.membershipMoves()) {
      for (const [k, p] of this.pages) {
        const wasShown = k >= this.wanted.from && k <= this.wanted.to;
        const shown = k >= from && k <= to;
        if (wasShown && !shown) p.stale = true;
      }
    }
    this.wanted = { from, to };
    // A request under way for a page the user scrolled past is left to finish (the server does the
    // work anyway); the loop then asks for where the user is now, so a drag across a million rows
    // costs about one request per round trip, not one per page passed.
    this.pump();
  }

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
      const oldest = this.overlay.entries().next().value;
      if (oldest === undefined) break;
      this.overlay.delete(oldest[0]);
      this.fold(oldest[1]);
    }
    this.changed();
  }

  /** Writes an overlay entry that leaves the overlay into its row, if that row is loaded. */
  private fold(o: Override): void {
    for (const page of this.pages.values()) {
      const rows = page.rows;
      const id = o.change.job_id;
      if (rows.length === 0 || id < rows[0]!.id || id > rows[rows.length - 1]!.id) continue;
      let lo = 0;
      let hi = rows.length - 1;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        const r = rows[mid]!;
        if (r.id === id) {
          if (o.receivedAt >= page.fetchedAt) rows[mid] = withStatusChange(r, o.change);
          return;
        }
        if (r.id < id) lo = mid + 1;
        else hi = mid - 1;
      }
    }
  }

  /** Drop every page (after a resync, or once when the step ends): what is on screen loads again. */
  invalidate(): void {
    for (const p of this.pages.values()) p.stale = true;
    // Keep the rows for display while they reload. An unfiltered or text-filtered list only grows at
    // its end, so its cursors stay right; a status-filtered one may have gained or lost rows
    // anywhere, so its cursors could skip or repeat rows.
    if (this.query.statuses.length > 0) this.cursors.clear();
    this.endPage = null;
    this.overlay.clear();
    // A new loop: the request under way (if any) may predate what made the pages stale.
    this.abort?.abort();
    this.pumping = false;
    this.loop++;
    this.pump();
  }

  private needsFetch(k: number): boolean {
    const p = this.pages.get(k);
    if (!p) return this.endPage === null || k <= this.endPage;
    return p.stale;
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

  /** The next wanted page to request, or null when the rows on screen are all loaded. */
  private nextFetch(): number | null {
    const { from, to } = this.wanted;
    const limit = this.expected !== null ? Math.max(0, Math.ceil(this.expected / PAGE_SIZE) - 1) : Number.MAX_SAFE_INTEGER;
    for (let k = from; k <= Math.min(to, limit); k++) {
      if (this.needsFetch(k) || this.tailDue(k)) return k;
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
        if (k === null) break;
        await this.fetchPage(k);
      }
      if (this.error !== null) {
        this.error = null;
        this.changed();
      }
    } catch (err) {
      if (!isAbort(err) && loop === this.loop) {
        this.error = err;
        this.changed();
      }
    } finally {
      if (loop === this.loop) this.pumping = false;
    }
  }

  private async fetchPage(k: number): Promise<void> {
    // Cursors are used (and kept) only while trusted; otherwise the page is read at its row number.
    const trusted = !this.membershipMoves();
    const cursor = k > 0 && trusted ? this.cursors.get(k) : undefined;
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
        ...(cursor !== undefined ? { cursor } : { offset: k * PAGE_SIZE }),
        order: 'asc',
      },
      ctrl.signal,
    );
    if (this.disposed || ctrl.signal.aborted) return;
    this.pages.delete(k);
    this.pages.set(k, { rows: page.data, fetchedAt, stale: false });
    if (page.nextCursor !== null && page.data.length > 0) {
      if (trusted && !this.membershipMoves()) this.cursors.set(k + 1, page.nextCursor);
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

  /** Pages held now (for tests). */
  cachedPages(): number {
    return this.pages.size;
  }
}
