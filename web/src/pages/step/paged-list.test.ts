import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { WireJob, WirePage } from '../../../../src/wire/api.js';
import type { JobStatusChangePayload } from '../../../../src/wire/live.js';
import { PAGE_SIZE, PagedJobList } from './paged-list.js';

/**
 * A fake /api/jobs over `total` jobs with ids 1..total, paged like the server: by keyset cursor (the
 * last id), or from row `offset` of the filtered list; either way the next cursor continues.
 */
function fakeServer(initialTotal: number) {
  const calls: URL[] = [];
  let total = initialTotal;
  let statusOf = (_id: number): WireJob['status'] => 'pending';
  const fetchFn = vi.fn(async (input: string) => {
    const url = new URL(input, 'http://x');
    calls.push(url);
    const limit = Number(url.searchParams.get('limit'));
    const cursor = url.searchParams.get('cursor');
    const offset = Number(url.searchParams.get('offset') ?? 0);
    const statuses = url.searchParams.get('status')?.split(',');
    const matches = (id: number): boolean => !statuses || statuses.includes(statusOf(id));
    const after = cursor ? Number(cursor) : 0;
    let skip = cursor ? 0 : offset;
    const data: WireJob[] = [];
    let id = after + 1;
    for (; id <= total && data.length < limit; id++) {
      if (!matches(id)) continue;
      if (skip > 0) {
        skip--;
        continue;
      }
      data.push({ id, kind: 'worker', name: `job ${id}`, status: statusOf(id), attempt: 1, max_attempts: 1 } as WireJob);
    }
    let more = false;
    for (let j = id; j <= total && !more; j++) more = matches(j);
    const page: WirePage<WireJob> = { data, next_cursor: more && data.length > 0 ? String(data.at(-1)!.id) : null };
    return new Response(JSON.stringify(page), { status: 200, headers: { 'content-type': 'application/json' } });
  });
  return {
    calls,
    fetchFn,
    setStatus(fn: (id: number) => WireJob['status']) {
      statusOf = fn;
    },
    /** Jobs joined the step (a fan-out still under way, or spawned children). */
    setTotal(n: number) {
      total = n;
    },
  };
}

async function settle(list: PagedJobList): Promise<void> {
  for (let i = 0; i < 10_000 && (list as unknown as { pumping: boolean }).pumping; i++) await new Promise((r) => setTimeout(r, 0));
}

function change(id: number, status: JobStatusChangePayload['status']): JobStatusChangePayload {
  return {
    job_id: id,
    parent_id: 1,
    step_id: 1,
    manager_id: 1,
    kind: 'worker',
    type: 't',
    name: `job ${id}`,
    status,
    attempt: 1,
    started_at: 1,
    finished_at: 2,
    error: null,
  };
}

const how = (u: URL): string =>
  u.searchParams.has('cursor') ? `cursor ${u.searchParams.get('cursor')}` : `offset ${u.searchParams.get('offset') ?? 0}`;

describe('PagedJobList', () => {
  const TOTAL = 1000 * PAGE_SIZE;
  let server: ReturnType<typeof fakeServer>;
  beforeEach(() => {
    server = fakeServer(TOTAL);
    vi.stubGlobal('fetch', server.fetchFn);
  });
  afterEach(() => vi.unstubAllGlobals());

  it('fetches the pages the visible rows need, and each row is at its index', async () => {
    const list = new PagedJobList({ stepId: 1, statuses: [], q: '' });
    list.setExpected(TOTAL);
    list.setRange(0, 30);
    await settle(list);
    expect(server.calls.map(how)).toEqual(['offset 0']);
    expect(list.row(0)!.id).toBe(1);
    expect(list.row(30)!.id).toBe(31);
  });

  it('jumps to the middle of a long list in one request, then scrolls on by cursor', async () => {
    const list = new PagedJobList({ stepId: 1, statuses: [], q: '' });
    list.setExpected(TOTAL);
    list.setRange(0, 30);
    await settle(list);
    const mid = TOTAL / 2 + 7;
    list.setRange(mid, mid + 30);
    await settle(list);
    expect(server.calls.map(how)).toEqual(['offset 0', `offset ${TOTAL / 2}`]);
    expect(list.row(mid)!.id).toBe(mid + 1);
    // On into the next page: the cursor the jump returned continues exactly.
    list.setRange(mid + PAGE_SIZE, mid + PAGE_SIZE + 30);
    await settle(list);
    expect(how(server.calls.at(-1)!)).toBe(`cursor ${TOTAL / 2 + PAGE_SIZE}`);
    expect(list.row(mid + PAGE_SIZE)!.id).toBe(mid + PAGE_SIZE + 1);
    // The last row, and a range across a page boundary (two pages, two requests).
    list.setRange(TOTAL - 20, TOTAL - 1);
    await settle(list);
    expect(list.row(TOTAL - 1)!.id).toBe(TOTAL);
    const before = server.calls.length;
    list.setRange(3 * PAGE_SIZE - 10, 3 * PAGE_SIZE + 10);
    await settle(list);
    expect(server.calls.slice(before).map(how)).toEqual([`offset ${2 * PAGE_SIZE}`, `cursor ${3 * PAGE_SIZE}`]);
    expect(list.idsIn(3 * PAGE_SIZE - 10, 3 * PAGE_SIZE + 10)).toEqual(Array.from({ length: 21 }, (_, i) => 3 * PAGE_SIZE - 9 + i));
  });

  it('holds a bounded number of pages, never the ones on screen', async () => {
    const list = new PagedJobList({ stepId: 1, statuses: [], q: '' });
    list.setExpected(TOTAL);
    for (let k = 0; k < 60; k++) {
      list.setRange(k * 7 * PAGE_SIZE, k * 7 * PAGE_SIZE + 30);
      await settle(list);
      expect(list.cachedPages()).toBeLessThanOrEqual(20);
      expect(list.row(k * 7 * PAGE_SIZE)!.id).toBe(k * 7 * PAGE_SIZE + 1);
    }
    expect(server.calls).toHaveLength(60);
    // Back to the top: its page was evicted, and comes back right.
    list.setRange(0, 20);
    await settle(list);
    expect(list.row(0)!.id).toBe(1);
  });

  it('applies pushed status changes received after the page was fetched', async () => {
    const list = new PagedJobList({ stepId: 1, statuses: [], q: '' });
    list.setExpected(TOTAL);
    list.setRange(0, 10);
    await settle(list);
    list.applyChanges([change(3, 'completed')]);
    expect(list.row(2)!.status).toBe('completed');
    expect(list.row(3)!.status).toBe('pending');
  });

  it('keeps pushed state past the overlay bound by writing it into the loaded rows', async () => {
    const list = new PagedJobList({ stepId: 1, statuses: [], q: '' });
    list.setExpected(TOTAL);
    list.setRange(0, 10);
    await settle(list);
    list.applyChanges([change(3, 'failed')]);
    list.applyChanges(Array.from({ length: 6000 }, (_, i) => change(100_000 + i, 'completed')));
    expect(list.row(2)!.status).toBe('failed');
  });

  it('an unfiltered page that comes back on screen is not fetched again: the view push brings its rows', async () => {
    const list = new PagedJobList({ stepId: 1, statuses: [], q: '' });
    list.setExpected(TOTAL);
    list.setRange(0, 10);
    await settle(list);
    list.setRange(PAGE_SIZE + 1, PAGE_SIZE + 10);
    await settle(list);
    const before = server.calls.length;
    list.setRange(0, 10);
    await settle(list);
    expect(server.calls.length).toBe(before);
    // What the server pushes as the rows re-enter the view.
    list.applyChanges([change(1, 'completed')]);
    expect(list.row(0)!.status).toBe('completed');
  });

  it('a status-filtered list of a running step reads pages by offset, and again when they come back', async () => {
    server.setStatus((id) => (id % 2 === 0 ? 'pending' : 'completed'));
    const list = new PagedJobList({ stepId: 1, statuses: ['pending'], q: '' });
    list.setExpected(TOTAL / 2);
    list.setRange(0, 10);
    await settle(list);
    list.setRange(PAGE_SIZE + 1, PAGE_SIZE + 10);
    await settle(list);
    expect(server.calls.map(how)).toEqual(['offset 0', `offset ${PAGE_SIZE}`]);
    // Meanwhile the first 100 pending jobs ran: page 1 comes back with its current members.
    server.setStatus((id) => (id % 2 === 0 && id > 200 ? 'pending' : 'completed'));
    list.setExpected(TOTAL / 2 - 100);
    list.setRange(0, 10);
    await settle(list);
    expect(server.calls.map(how)).toEqual(['offset 0', `offset ${PAGE_SIZE}`, 'offset 0']);
    expect(list.row(0)!.id).toBe(202);
  });

  it('after invalidate (the step ended), a filtered list loads what is on screen again and trusts cursors from then on', async () => {
    server.setStatus((id) => (id % 10 === 0 ? 'failed' : 'completed'));
    const list = new PagedJobList({ stepId: 1, statuses: ['failed'], q: '' });
    list.setExpected(TOTAL / 10);
    list.setRange(0, 20);
    await settle(list);
    expect(list.row(0)!.id).toBe(10);
    server.setStatus((id) => (id % 5 === 0 ? 'failed' : 'completed'));
    list.setExpected(TOTAL / 5);
    list.live = false;
    list.invalidate();
    await settle(list);
    expect(list.row(0)!.id).toBe(5);
    expect(list.row(1)!.id).toBe(10);
    expect(how(server.calls.at(-1)!)).toBe('offset 0');
    list.setRange(PAGE_SIZE, PAGE_SIZE + 20);
    await settle(list);
    expect(how(server.calls.at(-1)!)).toBe(`cursor ${PAGE_SIZE * 5}`);
    expect(list.row(PAGE_SIZE)!.id).toBe((PAGE_SIZE + 1) * 5);
  });

  it('an unfiltered list keeps its cursors through invalidate', async () => {
    const list = new PagedJobList({ stepId: 1, statuses: [], q: '' });
    list.setExpected(TOTAL);
    list.setRange(0, 10);
    await settle(list);
    list.setRange(PAGE_SIZE, PAGE_SIZE + 10);
    await settle(list);
    list.live = false;
    list.invalidate();
    await settle(list);
    expect(server.calls.map(how)).toEqual(['offset 0', `cursor ${PAGE_SIZE}`, `cursor ${PAGE_SIZE}`]);
  });

  describe('while the step runs, requests follow the user, not the jobs', () => {
    it('rows joining an unfiltered list are counted, not fetched; "show new" reads again the page that held the end', async () => {
      server.setTotal(900);
      const list = new PagedJobList({ stepId: 1, statuses: [], q: '' });
      list.setExpected(900);
      list.setRange(0, 30);
      await settle(list);
      list.setRange(880, 899);
      await settle(list);
      expect(server.calls.map(how)).toEqual(['offset 0', `cursor ${PAGE_SIZE}`]);
      expect(list.count()).toBe(900);
      // 5,100 more jobs join, one count at a time: nothing is fetched, the list keeps its length.
      for (let n = 901; n <= 6000; n += 7) {
        server.setTotal(n);
        list.setExpected(n);
        await settle(list);
      }
      server.setTotal(6000);
      list.setExpected(6000);
      await settle(list);
      expect(server.calls).toHaveLength(2);
      expect(list.count()).toBe(900);
      expect(list.newRows()).toBe(5100);
      expect(list.row(900)).toBeUndefined();
      // The user asks for them: the list takes the count and reads again the page on screen that
      // held its end (rows joined it), by its cursor; the full page before it stays as it is.
      list.showNew();
      await settle(list);
      expect(list.count()).toBe(6000);
      expect(list.newRows()).toBe(0);
      expect(server.calls.map(how)).toEqual(['offset 0', `cursor ${PAGE_SIZE}`, `cursor ${PAGE_SIZE}`]);
      expect(list.row(999)!.id).toBe(1000);
      // The other new rows are there when scrolled to, each at its place.
      list.setRange(5980, 5999);
      await settle(list);
      expect(list.row(5999)!.id).toBe(6000);
      expect(server.calls).toHaveLength(4);
    });

    it('an incomplete last page on screen is not read again on a timer while the step runs', async () => {
      server.setTotal(700);
      const list = new PagedJobList({ stepId: 1, statuses: [], q: '' });
      list.setExpected(700);
      list.setRange(PAGE_SIZE, 699);
      await settle(list);
      expect(server.calls).toHaveLength(1);
      server.setTotal(900);
      list.setExpected(900);
      vi.useFakeTimers();
      try {
        await vi.advanceTimersByTimeAsync(60_000);
      } finally {
        vi.useRealTimers();
      }
      await settle(list);
      expect(server.calls).toHaveLength(1);
      expect(list.newRows()).toBe(200);
    });

    it('a status-filtered list fetches nothing as jobs join it, however many; "show new" reads what is on screen, once', async () => {
      let failedUpTo = 0;
      server.setStatus((id) => (id % 10 === 0 && id <= failedUpTo ? 'failed' : 'completed'));
      const list = new PagedJobList({ stepId: 1, statuses: ['failed'], q: '' });
      list.setExpected(0);
      list.setRange(0, 0);
      await settle(list);
      // Nothing failed yet: nothing to read.
      expect(server.calls).toHaveLength(0);
      expect(list.count()).toBe(0);
      // 20,000 jobs end, 2,000 of them failed, in 400 pushes of the step's counts.
      for (let i = 1; i <= 400; i++) {
        failedUpTo = i * 50;
        list.setExpected(i * 5);
        list.applyChanges([change(i * 50, 'failed')]);
        await settle(list);
      }
      expect(server.calls).toHaveLength(0);
      expect(list.count()).toBe(0);
      expect(list.newRows()).toBe(2000);
      list.showNew();
      await settle(list);
      expect(server.calls.map(how)).toEqual(['offset 0']);
      expect(list.count()).toBe(2000);
      expect(list.newRows()).toBe(0);
      expect(list.idsIn(0, 2)).toEqual([10, 20, 30]);
      // More join: counted again, not fetched.
      failedUpTo = 30_000;
      list.setExpected(3000);
      await settle(list);
      expect(server.calls).toHaveLength(1);
      expect(list.newRows()).toBe(1000);
    });

    it('rows that left a status filter on screen make room for those that joined, in the "new" count', async () => {
      let running = [1, 16];
      server.setStatus((id) => (id >= running[0]! && id <= running[1]! ? 'running' : id < running[0]! ? 'completed' : 'pending'));
      const list = new PagedJobList({ stepId: 1, statuses: ['running'], q: '' });
      list.setExpected(16);
      list.setRange(0, 15);
      await settle(list);
      expect(list.idsIn(0, 15)).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
      expect(list.newRows()).toBe(0);
      // Ten of them complete and ten others start: the count of running jobs did not move.
      running = [11, 26];
      list.applyChanges(Array.from({ length: 10 }, (_, i) => change(i + 1, 'completed')));
      list.setExpected(16);
      await settle(list);
      expect(server.calls).toHaveLength(1);
      expect(list.count()).toBe(16);
      expect(list.row(0)!.status).toBe('completed');
      expect(list.newRows()).toBe(10);
      list.showNew();
      await settle(list);
      expect(server.calls.map(how)).toEqual(['offset 0', 'offset 0']);
      expect(list.idsIn(0, 15)).toEqual(Array.from({ length: 16 }, (_, i) => i + 11));
      expect(list.newRows()).toBe(0);
    });

    it('rows that only leave a status filter are not "new"', async () => {
      server.setStatus(() => 'pending');
      const list = new PagedJobList({ stepId: 1, statuses: ['pending'], q: '' });
      list.setExpected(TOTAL);
      list.setRange(0, 30);
      await settle(list);
      list.applyChanges(Array.from({ length: 31 }, (_, i) => change(i + 1, 'completed')));
      list.setExpected(TOTAL - 5000);
      await settle(list);
      expect(list.newRows()).toBe(0);
      expect(server.calls).toHaveLength(1);
    });

    it('when the step ends, what is on screen is read once, and the list takes the final count', async () => {
      let failedUpTo = 20_000;
      server.setStatus((id) => (id % 10 === 0 && id <= failedUpTo ? 'failed' : 'completed'));
      const list = new PagedJobList({ stepId: 1, statuses: ['failed'], q: '' });
      list.setExpected(2000);
      list.setRange(PAGE_SIZE + 490, PAGE_SIZE + 520);
      await settle(list);
      expect(server.calls.map(how)).toEqual([`offset ${PAGE_SIZE}`, `offset ${2 * PAGE_SIZE}`]);
      failedUpTo = 50_000;
      for (let n = 2100; n <= 5000; n += 100) list.setExpected(n);
      await settle(list);
      expect(server.calls).toHaveLength(2);
      // What the step page does when the step's status turns terminal.
      list.live = false;
      list.invalidate();
      await settle(list);
      expect(list.count()).toBe(5000);
      expect(list.newRows()).toBe(0);
      // The two pages on screen: the first by row number (the cursors of a filtered list that ran
      // were not kept), the next by the cursor it returned (the step ended: membership holds still).
      expect(server.calls.slice(2).map(how)).toEqual([`offset ${PAGE_SIZE}`, `cursor ${10 * 2 * PAGE_SIZE}`]);
      expect(list.idsIn(PAGE_SIZE + 490, PAGE_SIZE + 520)).toEqual(Array.from({ length: 31 }, (_, i) => (PAGE_SIZE + 491 + i) * 10));
      // Ended: counts that still arrive (a late push) cost nothing more.
      list.setExpected(5000);
      await settle(list);
      expect(server.calls).toHaveLength(4);
    });

    it('a name search of a running step reads only the pages scrolled to', async () => {
      server.setTotal(1200);
      const list = new PagedJobList({ stepId: 1, statuses: [], q: 'job' });
      list.setExpected(null);
      list.setRange(0, 30);
      await settle(list);
      expect(list.count()).toBe(2 * PAGE_SIZE);
      list.setRange(990, 999);
      await settle(list);
      expect(list.count()).toBe(3 * PAGE_SIZE);
      list.setRange(1000, 1010);
      await settle(list);
      expect(list.count()).toBe(1200);
      server.setTotal(5000);
      list.setRange(1180, 1199);
      await settle(list);
      expect(server.calls.map(how)).toEqual(['offset 0', `cursor ${PAGE_SIZE}`, `cursor ${2 * PAGE_SIZE}`]);
      expect(list.newRows()).toBe(0);
    });
  });
});
