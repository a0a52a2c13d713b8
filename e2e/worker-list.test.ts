/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * The step page's worker list in a real browser against the real server: what it requests while
 * its step runs (by what the user does, never by the job rate), what it shows once the step ended,
 * and where it stands after the filters change. Also the Definitions view's stages. One server and
 * one browser for the file; each test opens its own browser context.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execute, getJob, saveDefinition, stepsOf, waitForRunEnd, workerIds } from './helpers/api.js';
import { openPage, screenshot, type WatchedPage } from './helpers/browser.js';
import { collectWorkerRows } from './helpers/page.js';
import { startSuite, stopSuite, type TestServer } from './helpers/server.js';

let server: TestServer;
let browser: Browser;

beforeAll(async () => {
  ({ server, browser } = await startSuite({ concurrency: 16 }));
}, 120_000);

afterAll(() => stopSuite(server, browser));

/** The page's requests for worker-list pages of `stepId` (GET /api/jobs?step_id=…), from `from` on. */
function listRequests(w: WatchedPage, stepId: number, from = 0): URL[] {
  return w.apiRequests
    .slice(from)
    .map((r) => new URL(r.url()))
    .filter((u) => u.pathname === '/api/jobs' && u.searchParams.get('step_id') === String(stepId));
}

/** Waits until the "new" bar offers at least one job to show, and returns how many. */
async function waitForNew(page: Page, timeoutMs = 20_000): Promise<number> {
  const handle = await page
    .waitForFunction(
      () => {
        const n = Number(document.querySelector('[data-testid="show-new"]')?.getAttribute('data-new') ?? 0);
        return n > 0 ? n : null;
      },
      null,
      { polling: 50, timeout: timeoutMs },
    )
    .catch(async (err: unknown) => {
      throw new Error(`no "new" jobs offered in ${timeoutMs} ms: the page shows ${await listState(page)}`, { cause: err });
    });
  return (await handle.jsonValue()) as number;
}

/** Waits until every row on screen shows its job, and there is at least one. */
async function waitForRows(page: Page, timeoutMs = 10_000): Promise<void> {
  await page
    .waitForFunction(
      () => {
        const rows = [...document.querySelectorAll('[data-testid="worker-list"] [role="row"]')];
        return rows.length > 0 && rows.every((r) => r.querySelector('[data-testid="worker-row"]'));
      },
      null,
      { polling: 20, timeout: timeoutMs },
    )
    .catch(async (err: unknown) => {
      throw new Error(`the worker list did not show its rows in ${timeoutMs} ms: the page shows ${await listState(page)}`, { cause: err });
    });
}

/** What the list part of the page shows, for failure messages. */
function listState(page: Page): Promise<string> {
  return page.evaluate(() => {
    const el = document.querySelector('[data-testid="worker-list"]');
    const rows = el ? [...el.querySelectorAll('[role="row"]')] : [];
    return (
      `bar "${document.querySelector('[data-testid="new-rows-bar"]')?.textContent ?? '(none)'}", ` +
      `empty "${document.querySelector('[data-testid="worker-list-empty"]')?.textContent ?? '(none)'}", ` +
      `list: ${el ? `${el.getAttribute('data-count')} rows, scrollTop ${el.scrollTop}, ${rows.length} rendered, ` + `${rows.filter((r) => r.querySelector('[data-testid="worker-row"]')).length} with a job` : '(none)'}; ` +
      `step "${document.querySelector('[data-testid="step-counts"]')?.textContent ?? ''}"`
    );
  });
}

interface FilteredWatch {
  runId: number;
  stepId: number;
  /** Worker-list requests of each page from its load to the end of its final refresh. */
  failedRequests: number;
  runningRequests: number;
  /** All /api requests of each page over the same time. */
  failedAll: number;
  runningAll: number;
  failedIds: number[];
  /** When each list request of the failed page was sent, in ms from the run's start, and what it read. */
  failedLog: string[];
}

/**
 * Runs a step of `n` synthetic jobs (5 % of them fail, without retries) lasting about ten seconds (room for a loaded machine to load both pages while it runs) whatever `n` (so the
 * job rate grows with `n`), watched by two pages: its worker list filtered to failed jobs, and to
 * running jobs. Each page asks once for the jobs that joined its list; then the test waits for the
 * run's end and the pages' final state, and reports what they requested.
 */
async function watchFilteredRun(n: number, shot?: string): Promise<FilteredWatch> {
  const id = `live-filter-${n}`;
  const duration = Math.round((10_000 * 16) / n);
  await saveDefinition(
    server,
    `id = "${id}"\nname = "Live filter ${n}"\n\n[step.work]\ntype = "synthetic"\ncount = ${n}\nduration_ms = ${duration}\nfailure_rate = 0.05\nretries = 1\nmax_failures = "100%"\n`,
  );
  const failed = await openPage(browser);
  const running = await openPage(browser);
  try {
    const t0 = Date.now();
    const sent: string[] = [];
    failed.page.on('request', (r) => {
      const u = new URL(r.url());
      if (u.pathname === '/api/jobs' && u.searchParams.has('step_id'))
        sent.push(`+${Date.now() - t0} ms ${u.searchParams.has('cursor') ? 'by cursor' : `offset ${u.searchParams.get('offset') ?? 0}`}`);
    });
    const runId = await execute(server, id);
    const [step] = await stepsOf(server, runId);
    const stepId = step!.id;
    await failed.page.goto(`${server.url}/#/runs/${runId}/steps/${stepId}?status=failed`);
    await running.page.goto(`${server.url}/#/runs/${runId}/steps/${stepId}?status=running`);
    // The bar shows only while the step runs: both pages loaded while it ran.
    await failed.page.getByTestId('new-rows-bar').waitFor({ timeout: 10_000 });
    await running.page.getByTestId('new-rows-bar').waitFor({ timeout: 10_000 });

    // Both pages at once (the run lasts a few seconds): each asks for the jobs that joined its list.
    await Promise.all([
      (async () => {
        // Failed jobs join the list: counted, not fetched, until the user asks for them; one request
        // then. Once more after (the screenshot shows rows, and the bar counting those that joined).
        // By keyboard: the bar's button is the tab stop after the search box; focus stays on it.
        await waitForNew(failed.page);
        const before = listRequests(failed, stepId).length;
        await failed.page.getByTestId('job-search').focus();
        await failed.page.keyboard.press('Tab');
        const focused = (): Promise<string | null> =>
          failed.page.evaluate(() => document.activeElement?.getAttribute('data-testid') ?? null);
        expect(await focused()).toBe('show-new');
        await failed.page.keyboard.press('Enter');
        await waitForRows(failed.page);
        expect(listRequests(failed, stepId).length - before).toBe(1);
        expect(await focused()).toBe('show-new');
        await waitForNew(failed.page);
        if (shot) await screenshot(failed.page, shot);
      })(),
      (async () => {
        // Running jobs end and others start: the rows stay (showing their new status), and those
        // that started since are counted, until the user asks for them.
        // The count of running jobs moves by claim batches, so "new" comes and goes: the click is
        // made in the page in the same task that sees the button offer jobs.
        await waitForNew(running.page);
        const before = listRequests(running, stepId).length;
        const read = running.page.waitForResponse((r) => new URL(r.url()).searchParams.get('step_id') === String(stepId), {
          timeout: 10_000,
        });
        await running.page.waitForFunction(
          () => {
            const button = document.querySelector<HTMLButtonElement>('[data-testid="show-new"]');
            if (Number(button?.getAttribute('data-new') ?? 0) === 0) return false;
            button!.click();
            return true;
          },
          null,
          { polling: 20, timeout: 10_000 },
        );
        const jobs = ((await (await read).json()) as { data: unknown[] }).data.length;
        // What the server had running then: some jobs (claims come in batches, so now and then none).
        if (jobs > 0) await waitForRows(running.page);
        else await running.page.getByTestId('worker-list-empty').waitFor({ timeout: 5000 });
        expect(listRequests(running, stepId).length - before).toBe(1);
      })(),
    ]);

    const run = await waitForRunEnd(server, runId, 60_000);
    expect(run.status).toBe('completed');
    const counts = (await getJob(server, stepId)).progress!.counts;
    expect(counts.failed).toBeGreaterThan(0);
    // After the end: the failed list takes the final count, and the first screen holds only failed
    // jobs (the refresh of what is on screen); the running list is empty.
    await failed.page.waitForFunction(
      (c) => document.querySelector('[data-testid="worker-list"]')?.getAttribute('data-count') === String(c),
      counts.failed,
      { polling: 50, timeout: 10_000 },
    );
    await failed.page.waitForFunction(
      () => {
        const rows = [...document.querySelectorAll('[data-testid="worker-list"] [role="row"]')];
        return rows.length > 0 && rows.every((r) => r.querySelector('[data-testid="worker-row"][data-status="failed"]'));
      },
      null,
      { polling: 50, timeout: 10_000 },
    );
    await running.page.getByTestId('worker-list-empty').waitFor({ timeout: 10_000 });
    expect(await running.page.getByTestId('worker-list-empty').textContent()).toBe('No running jobs.');
    expect(await failed.page.getByTestId('new-rows-bar').count()).toBe(0);
    const watch: FilteredWatch = {
      runId,
      stepId,
      failedRequests: listRequests(failed, stepId).length,
      runningRequests: listRequests(running, stepId).length,
      failedAll: failed.apiRequests.length,
      runningAll: running.apiRequests.length,
      failedIds: await workerIds(server, stepId, 'failed'),
      failedLog: [...sent, `run ended +${run.finished_at! - t0} ms`],
    };
    expect(watch.failedIds).toHaveLength(counts.failed);
    // Exactly the failed jobs, each once, all shown as failed (scrolling on from here reads the rest).
    const shown = await collectWorkerRows(failed.page);
    expect([...shown.keys()].sort((a, b) => a - b)).toEqual(watch.failedIds);
    expect(new Set(shown.values())).toEqual(new Set(['failed']));
    expect(failed.errors).toEqual([]);
    expect(running.errors).toEqual([]);
    return watch;
  } finally {
    await failed.close();
    await running.close();
  }
}

describe('the worker list', () => {
  it('filtered by status while its step runs, requests follow the user and the step end, not the job count', async () => {
    const small = await watchFilteredRun(1000);
    const big = await watchFilteredRun(10_000, 'worker-list-new');
    console.log(
      `worker-list requests while a run progressed, filtered by failed / by running: ` +
        `${small.failedRequests} / ${small.runningRequests} for 1,000 jobs, ${big.failedRequests} / ${big.runningRequests} for 10,000 jobs ` +
        `(all requests: ${small.failedAll} / ${small.runningAll}, ${big.failedAll} / ${big.runningAll}); ` +
        `the failed list's: ${small.failedLog.join(', ')} (1,000 jobs); ${big.failedLog.join(', ')} (10,000 jobs)`,
    );
    // Per page: the first screen (none when the filter had no jobs yet), one "show new", and the
    // refresh of what is on screen when the step ended (none for an empty list). Plus the step and
    // the run, once. Nothing per job, per message or per second.
    const LIST_BOUND = 3;
    for (const w of [small, big]) {
      expect(w.failedRequests).toBeLessThanOrEqual(LIST_BOUND);
      expect(w.runningRequests).toBeLessThanOrEqual(LIST_BOUND);
      expect(w.failedAll).toBeLessThanOrEqual(LIST_BOUND + 2);
      expect(w.runningAll).toBeLessThanOrEqual(LIST_BOUND + 2);
    }
  }, 120_000);

  it('goes back to the top, rows shown, when the filter or the search changes far down the list', async () => {
    await saveDefinition(
      server,
      `id = "scroll-back"\nname = "Scroll back"\n\n[step.work]\ntype = "synthetic"\ncount = 10000\nfailure_rate = 0.05\nretries = 1\nmax_failures = "100%"\n`,
    );
    const runId = await execute(server, 'scroll-back');
    await waitForRunEnd(server, runId, 60_000);
    const [step] = await stepsOf(server, runId);
    const failed = await workerIds(server, step!.id, 'failed');
    expect(failed.length).toBeGreaterThan(100);
    const w = await openPage(browser);
    try {
      const list = w.page.getByTestId('worker-list');
      /** Scrolls the list to its end and waits until its last row shows. */
      const toEnd = async (count: number): Promise<void> => {
        await list.evaluate((el) => {
          el.scrollTop = el.scrollHeight;
        });
        await w.page.waitForFunction(
          (n) => document.querySelector(`[data-testid="worker-list"] [aria-rowindex="${n}"] [data-testid="worker-row"]`) !== null,
          count,
          { polling: 20, timeout: 10_000 },
        );
      };
      /** The list shows its first rows, from its top, without being scrolled (count: null for a search). */
      const atTop = async (count: number | null, firstName: string): Promise<void> => {
        const shows = (): Promise<string> =>
          list.evaluate((el) => {
            const rows = [...el.querySelectorAll('[role="row"]')];
            const names = rows.map((r) => r.querySelector('.w-name')?.textContent ?? '(empty)');
            return `scrollTop ${el.scrollTop}, count ${el.getAttribute('data-count')}, ${rows.length} rows from ${rows[0]?.getAttribute('aria-rowindex')}: ${names.slice(0, 3).join(', ')}`;
          });
        await w.page
          .waitForFunction(
            ([n, name]) => {
              const el = document.querySelector('[data-testid="worker-list"]');
              const first = el?.querySelector('[aria-rowindex="1"] [data-testid="worker-row"] .w-name');
              return (n === null || el?.getAttribute('data-count') === String(n)) && el?.scrollTop === 0 && first?.textContent === name;
            },
            [count, firstName] as const,
            { polling: 20, timeout: 5000 },
          )
          .catch(async (err: unknown) => {
            throw new Error(`expected the top of the list (${count ?? '?'} rows, first "${firstName}"); it shows ${await shows()}`, {
              cause: err,
            });
          });
        await waitForRows(w.page, 5000);
      };
      await w.page.goto(`${server.url}/#/runs/${runId}/steps/${step!.id}`);
      await atTop(10_000, 'work #0');
      await toEnd(10_000);

      // A filter: the failed jobs, from the first.
      const firstFailed = (await getJob(server, failed[0]!)).name;
      await w.page.getByTestId('filter-failed').click();
      await atTop(failed.length, firstFailed);
      await screenshot(w.page, 'worker-list-filter-top');
      await toEnd(failed.length);

      // A search, from far down the failed list: its matches, from the first.
      await w.page.getByTestId('filter-all').click();
      await atTop(10_000, 'work #0');
      await toEnd(10_000);
      await w.page.getByTestId('job-search').fill('work #9');
      await atTop(null, 'work #9');
      // work #9, #90–99, #900–999, #9000–9999: 1,111 jobs, their number known once the last page
      // is read (a search has no count): scroll on until the list ends.
      for (let i = 0; i < 5; i++) {
        await list.evaluate((el) => {
          el.scrollTop = el.scrollHeight;
        });
        await waitForRows(w.page);
        if ((await list.getAttribute('data-count')) === '1111') break;
      }
      await toEnd(1111);

      // And back to all jobs, the search cleared, from the end of the search's list.
      await w.page.getByTestId('job-search').fill('');
      await atTop(10_000, 'work #0');
      expect(w.errors).toEqual([]);
    } finally {
      await w.close();
    }
  }, 60_000);
});

describe('the Definitions view', () => {
  it('shows the steps of each definition by stage', async () => {
    await saveDefinition(
      server,
      [
        'id = "site-index"',
        'name = "Site index"',
        'description = "Scans files and fetches pages in parallel, then indexes and reports."',
        '',
        '[step.scan]',
        'type = "synthetic"',
        '',
        '[step.fetch]',
        'type = "synthetic"',
        '',
        '[step.index]',
        'type = "synthetic"',
        'depends_on = ["scan", "fetch"]',
        '',
        '[step.report]',
        'type = "synthetic"',
        'depends_on = "index"',
        '',
      ].join('\n'),
    );
    await saveDefinition(server, 'id = "one-step"\nname = "One step"\n\n[step.only]\ntype = "synthetic"\n');
    const w = await openPage(browser);
    try {
      await w.page.goto(`${server.url}/#/definitions`);
      const stages = (id: string) => w.page.locator(`[data-testid="def-row-${id}"] [data-testid="def-stages"]`);
      await stages('site-index').waitFor();
      expect(await stages('site-index').textContent()).toBe('scan, fetch → index → report');
      expect(await stages('one-step').textContent()).toBe('only');
      await screenshot(w.page, 'definitions-stages');
      expect(w.errors).toEqual([]);
    } finally {
      await w.close();
    }
  }, 30_000);
});
