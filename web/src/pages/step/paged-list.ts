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
 *
 * While the step runs, the list never fetches because its counts moved: its length is the count
 * when its rows were loaded (or where a fetch found its end), and rows that joined since are only
 * counted (`newRows`) until the user asks for them (`showNew`). So the requests follow what the user
 * does (scrolling to pages not loaded, back to a stale filtered page, "show new", other filters),
 * never the job rate and never a timer. When the step ends, every page is marked stale and what is
 * on screen is fetched once more, so the list ends exact even where pushes cannot reach (see
 * ../../live/ARCHITECTURE.md).
 */
import type { JobStatusChangePayload } from '../../../../src/wire/live.js';
import { listJobs, withStatusChange, type JobView } from '../../api/jobs.js';
import { isAbort } from '../../api/http.js';
import type { Status } from '../../status.js';

/** Rows per request. */
export const PAGE_SIZE = 500;
/** ~10,000 rows held at most. */
const MAX_PAGES = 20;
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
  /** Pages on screen (none until the list is shown). */
  private wanted = { from: 0, to: -1 };
  /** The rows the filter has now, from the step's live counts (null when unknown: a name search). */
  private expected: number | null = null;
  /** Whether the step page said what the list holds (setExpected, with a count or null). */
  private sized = false;
  /** While the step runs: the length of the list as loaded (rows that joined since are not shown). */
  private shown: number | null = null;
  private running = true;
  private pumping = false;
  /** Identifies the current fetch loop; an aborted loop must not clear a newer loop's flag. */
  private loop = 0;
  private abort: AbortController | null = null;
  private disposed = false;
  /** leftRows() as of `version` (it walks the loaded rows; renders ask for it more often than pushes come). */
  private leftCache = { version: -1, value: 0 };
  private readonly listeners = new Set<() => void>();
  error: unknown = null;
  /** Bumped on every change, for React's useSyncExternalStore. */
  version = 0;
  /** Requests sent so far (shown nowhere; the tests read it to check the list stays frugal). */
  requests = 0;

  constructor(readonly query: ListQuery) {}

  /** Whether the step still runs (set by the step page from the step's status). */
  get live(): boolean {
    return this.running;
  }

  set live(value: boolean) {
    if (value === this.running) return;
    // Running again (a retry): the list keeps the length it shows now, and counts what joins.
    if (value) this.shown = this.count();
    this.running = value;
    this.changed();
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  dispose(): void {
    this.disposed = true;
    this.abort?.abort();
    this.listeners.clear();
  }

  private changed(): void {
    this.version++;
    for (const l of this.listeners) l();
  }

  /**
   * Rows the filter has now (from the step's live counts), or null when unknown (a name search).
   * While the step runs this moves only `newRows`; once it ended, it is the list's length.
   */
  setExpected(count: number | null): void {
    if (count === this.expected && this.sized) return;
    this.sized = true;
    this.expected = count;
    if (this.shown === null || !this.running) this.shown = count;
    this.changed();
    this.pump();
  }

  /**
   * Rows to show. Once the step ended: its count. While it runs: where a fetch found the list's end,
   * else the count when the rows were loaded. A name search (no count): what has loaded plus a page
   * to reach for.
   */
  count(): number {
    if (this.expected !== null) {
      if (!this.running) return this.expected;
      return this.endIndex() ?? this.shown ?? this.expected;
    }
    if (this.endPage !== null) {
      const last = this.pages.get(this.endPage);
      if (last) return this.endPage * PAGE_SIZE + last.rows.length;
    }
    let loaded = 0;
    while (this.pages.has(loaded)) loaded++;
    return loaded * PAGE_SIZE + (this.endPage === null ? PAGE_SIZE : 0);
  }

  /**
   * Rows the filter gained since the list was loaded (while the step runs), not shown until
   * `showNew`. The rows the filter has now are those the list shows that still match, plus those
   * that joined: joined = expected − (shown − left), where `left` counts the loaded rows that pushes
   * moved out of a status filter. Rows that left unseen (off screen, never pushed) are not counted,
   * so this errs low: "N new" never promises rows that are not there.
   */
  newRows(): number {
    if (!this.running || this.expected === null) return 0;
    return Math.max(0, this.expected - (this.count() - this.leftRows()));
  }

  /**
   * Whether the list knows its size (the step's counts, or that there are none: a name search). The
   * grid waits for it: before, the list would read a page that the counts may show is not needed.
   */
  isSized(): boolean {
    return this.sized;
  }

  /** Whether the list counts rows that join it (`newRows`): while the step runs, unless searched by name. */
  countsNew(): boolean {
    return this.running && this.expected !== null;
  }

  /** Loaded rows (within `count()`) whose pushed status no longer matches the status filter. */
  private leftRows(): number {
    const statuses = this.query.statuses;
    if (statuses.length === 0) return 0;
    if (this.leftCache.version === this.version) return this.leftCache.value;
    const limit = this.count();
    let left = 0;
    for (const [k, page] of this.pages) {
      const base = k * PAGE_SIZE;
      for (let i = 0; i < page.rows.length && base + i < limit; i++) {
        const job = page.rows[i]!;
        const o = this.overlay.get(job.id);
        const status = o && o.receivedAt >= page.fetchedAt ? o.change.status : job.status;
        if (!statuses.includes(status)) left++;
      }
    }
    this.leftCache = { version: this.version, value: left };
    return left;
  }

  /**
   * Shows the rows counted by `newRows`: the list takes the current count and reads again what is
   * on screen. A status-filtered list may have gained rows anywhere, so all its pages are stale; an
   * unfiltered list only grew at its end, so only the page that held the end, and what follows.
   */
  showNew(): void {
    if (this.expected === null) return;
    if (this.query.statuses.length > 0) {
      this.invalidate();
      return;
    }
    const fromPage = Math.floor(this.count() / PAGE_SIZE);
    this.shown = this.expected;
    for (const [k, p] of this.pages) if (k >= fromPage) p.stale = true;
    this.endPage = null;
    this.restart();
  }

  /** Where the list is known to end (a page came back without a next cursor), or null. */
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
    this.shown = this.expected;
    this.restart();
  }

  /** A new fetch loop: the request under way (if any) may predate what made pages stale. */
  private restart(): void {
    this.abort?.abort();
    this.pumping = false;
    this.loop++;
    this.changed();
    this.pump();
  }

  private needsFetch(k: number): boolean {
    const p = this.pages.get(k);
    if (!p) return this.endPage === null || k <= this.endPage;
    return p.stale;
  }

  /**
   * The next wanted page to request, or null when the rows on screen are all loaded. Only pages
   * within `count()` rows: rows the counts gained while the step runs are not fetched by themselves.
   */
  private nextFetch(): number | null {
    const { from, to } = this.wanted;
    const limit = this.expected !== null ? Math.ceil(this.count() / PAGE_SIZE) - 1 : Number.MAX_SAFE_INTEGER;
    for (let k = from; k <= Math.min(to, limit); k++) {
      if (this.needsFetch(k)) return k;
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
