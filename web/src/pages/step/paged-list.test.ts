import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { WireJob, WirePage } from '../../../../src/wire/api.js';
import type { JobStatusChangePayload } from '../../../../src/wire/live.js';
import { PAGE_SIZE, PagedJobList } from './paged-list.js';

/** A fake /api/jobs over `total` jobs with ids 1..total, keyset-paged like the server. */
function fakeServer(total: number) {
  const calls: URL[] = [];
  let statusOf = (_id: number): WireJob['status'] => 'pending';
  const fetchFn = vi.fn(async (input: string) => {
    const url = new URL(input, 'http://x');
    calls.push(url);
    const limit = Number(url.searchParams.get('limit'));
    const cursor = url.searchParams.get('cursor');
    const statuses = url.searchParams.get('status')?.split(',');
    const after = cursor ? Number(cursor) : 0;
    const data: WireJob[] = [];
    let id = after + 1;
    for (; id <= total && data.length < limit; id++) {
      if (statuses && !statuses.includes(statusOf(id))) continue;
      data.push({ id, kind: 'worker', name: `job ${id}`, status: statusOf(id), attempt: 1, max_attempts: 1 } as WireJob);
    }
    let more = false;
    for (let j = id; j <= total; j++) if (!statuses || statuses.includes(statusOf(j))) more = true;
    const page: WirePage<WireJob> = { data, next_cursor: more && data.length > 0 ? String(data.at(-1)!.id) : null };
    return new Response(JSON.stringify(page), { status: 200, headers: { 'content-type': 'application/json' } });
  });
  return {
    calls,
    fetchFn,
    setStatus(fn: (id: number) => WireJob['status']) {
      statusOf = fn;
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

describe('PagedJobList', () => {
  let server: ReturnType<typeof fakeServer>;
  beforeEach(() => {
    server = fakeServer(20 * PAGE_SIZE);
    vi.stubGlobal('fetch', server.fetchFn);
  });
  afterEach(() => vi.unstubAllGlobals());

  it('fetches the pages the visible rows need, and each row is at its index', async () => {
    const list = new PagedJobList({ stepId: 1, statuses: [], q: '' });
    list.setExpected(20 * PAGE_SIZE);
    list.setRange(0, 30);
    await settle(list);
    expect(server.calls).toHaveLength(1);
    expect(list.row(0)!.id).toBe(1);
    expect(list.row(30)!.id).toBe(31);
  });

  it('walks the cursors to reach a far page, then holds a bounded number of pages', async () => {
    const list = new PagedJobList({ stepId: 1, statuses: [], q: '' });
    list.setExpected(20 * PAGE_SIZE);
    const far = 19 * PAGE_SIZE + 7;
    list.setRange(far, far + 20);
    await settle(list);
    expect(server.calls).toHaveLength(20);
    expect(list.row(far)!.id).toBe(far + 1);
    expect(list.cachedPages()).toBeLessThanOrEqual(20);
    // Back to the top: its page was evicted or kept, but the row is right either way.
    list.setRange(0, 20);
    await settle(list);
    expect(list.row(0)!.id).toBe(1);
  });

  it('applies pushed status changes received after the page was fetched', async () => {
    const list = new PagedJobList({ stepId: 1, statuses: [], q: '' });
    list.setExpected(20 * PAGE_SIZE);
    list.setRange(0, 10);
    await settle(list);
    list.applyChanges([change(3, 'completed')]);
    expect(list.row(2)!.status).toBe('completed');
    expect(list.row(3)!.status).toBe('pending');
  });

  it('a page that left the screen while the step runs is fetched again when it comes back', async () => {
    const list = new PagedJobList({ stepId: 1, statuses: [], q: '' });
    list.setExpected(20 * PAGE_SIZE);
    list.setRange(0, 10);
    await settle(list);
    list.setRange(PAGE_SIZE + 1, PAGE_SIZE + 10);
    await settle(list);
    const before = server.calls.length;
    server.setStatus(() => 'completed');
    list.setRange(0, 10);
    await settle(list);
    expect(server.calls.length).toBe(before + 1);
    expect(list.row(0)!.status).toBe('completed');
  });

  it('after invalidate (the step ended), a filtered list loads what is on screen again from its first cursor', async () => {
    server.setStatus((id) => (id % 10 === 0 ? 'failed' : 'completed'));
    const list = new PagedJobList({ stepId: 1, statuses: ['failed'], q: '' });
    list.setExpected((20 * PAGE_SIZE) / 10);
    list.setRange(0, 20);
    await settle(list);
    expect(list.row(0)!.id).toBe(10);
    server.setStatus((id) => (id % 5 === 0 ? 'failed' : 'completed'));
    list.setExpected((20 * PAGE_SIZE) / 5);
    list.invalidate();
    await settle(list);
    expect(list.row(0)!.id).toBe(5);
    expect(list.row(1)!.id).toBe(10);
    expect(server.calls.at(-1)!.searchParams.get('cursor')).toBeNull();
  });
});
