/**
 * The queue page in a real browser (Debian's Chromium) against the real server (buildApp on a temp
 * SQLite file, 127.0.0.1, a free port), with data made through the public API. One server and one
 * browser for the file; each test opens its own browser context.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WireCounts } from '../src/wire/api.js';
import { countsText, execute, getJob, saveDefinition, stepsOf, waitForJob, waitForRunEnd, workerIds } from './helpers/api.js';
import { launchBrowser, openPage, screenshot, type WatchedPage } from './helpers/browser.js';
import { badgeOf, confirmAction, recordStatuses, seenStatuses, textOf, waitForBadge, waitForText } from './helpers/page.js';
import { startServer, type TestServer } from './helpers/server.js';

let server: TestServer;
let browser: Browser;

beforeAll(async () => {
  server = await startServer({ concurrency: 16 });
  browser = await launchBrowser();
}, 120_000);

afterAll(async () => {
  try {
    await browser?.close();
  } finally {
    try {
      await server?.stop();
    } finally {
      server?.cleanup();
    }
  }
});

/** Runs `fn` with a fresh page, and closes it whatever happens. */
async function withPage<T>(fn: (w: WatchedPage) => Promise<T>, size?: { width: number; height: number }): Promise<T> {
  const w = await openPage(browser, size);
  try {
    return await fn(w);
  } finally {
    await w.close();
  }
}

function loadDefinition(n: number): string {
  return `id = "load-${n}"\nname = "Load ${n}"\n\n[step.work]\ntype = "synthetic"\ncount = ${n}\nduration_ms = 4\n`;
}

const stepCounts = (stepId: number): string => `[data-testid="step-counts-${stepId}"]`;
const stepCard = (stepId: number): string => `[data-testid="step-${stepId}"]`;
const fmt = (n: number): string => n.toLocaleString('en-US');

interface RunWatch {
  runId: number;
  stepId: number;
  requests: number;
  lagMs: number;
  statuses: string[];
  errors: string[];
}

/** Starts load-N, watches it on the run view to its end, and reports what the page did. */
async function watchLoadRun(n: number, shot?: string): Promise<RunWatch> {
  await saveDefinition(server, loadDefinition(n));
  return withPage(async (w) => {
    const runId = await execute(server, `load-${n}`);
    const [step] = await stepsOf(server, runId);
    const stepId = step!.id;
    await w.page.goto(`${server.url}/#/runs/${runId}`);
    await w.page.locator(stepCounts(stepId)).waitFor();
    await recordStatuses(w.page, stepCard(stepId));
    if (shot) {
      await w.page.waitForFunction((sel) => /[1-9][\d,]* completed/.test(document.querySelector(sel)?.textContent ?? ''), stepCounts(stepId), {
        polling: 50,
        timeout: 30_000,
      });
      await screenshot(w.page, shot);
    }
    await waitForText(w.page, stepCounts(stepId), `0 pending, 0 running, ${fmt(n)} completed, 0 failed`, 60_000);
    const sawAt = Date.now();
    const run = await waitForRunEnd(server, runId);
    expect(run.status).toBe('completed');
    await waitForBadge(w.page, '[data-testid="run-head"]', 'completed', 5000);
    return {
      runId,
      stepId,
      requests: w.apiRequests.length,
      lagMs: sawAt - run.finished_at!,
      statuses: await seenStatuses(w.page),
      errors: w.errors,
    };
  });
}

describe('the queue page', () => {
  let big: RunWatch;

  it('loads snapshots and then only listens: requests do not grow with the job count', async () => {
    const small = await watchLoadRun(1000);
    big = await watchLoadRun(10_000, 'run-live');
    console.log(
      `requests while a run progressed: ${small.requests} for 1,000 jobs, ${big.requests} for 10,000 jobs; ` +
        `final counts shown ${small.lagMs} ms / ${big.lagMs} ms after the run's end`,
    );
    // Run view: the run and its steps, once. Nothing per job, nothing per message, no polling.
    const BOUND = 4;
    expect(small.requests).toBeLessThanOrEqual(BOUND);
    expect(big.requests).toBeLessThanOrEqual(BOUND);
    expect(big.requests).toBe(small.requests);
    expect(big.lagMs).toBeLessThanOrEqual(2000);
    expect(small.lagMs).toBeLessThanOrEqual(2000);
    expect(big.statuses).toContain('running');
    expect(big.statuses.at(-1)).toBe('completed');
    expect(small.errors).toEqual([]);
    expect(big.errors).toEqual([]);
  }, 120_000);

  it('renders a bounded number of rows while scrolling a 10,000-job step, each at its place', async () => {
    expect(big).toBeDefined();
    await withPage(async (w) => {
      await w.page.goto(`${server.url}/#/runs/${big.runId}/steps/${big.stepId}`);
      const list = w.page.getByTestId('worker-list');
      await list.waitFor();
      await w.page.waitForFunction(() => document.querySelector('[data-testid="worker-list"]')?.getAttribute('data-count') === '10000', null, { timeout: 10_000 });
      const rendered: number[] = [];
      for (const at of [0, 0.25, 0.5, 0.75, 1]) {
        await list.evaluate((el, f) => {
          el.scrollTop = (el.scrollHeight - el.clientHeight) * f;
        }, at);
        // Every row on screen loaded, and each shows the job of its index (names are "work #<index>").
        // Wait for the rows of the new position (the one at the top of the viewport is rendered)
        // and for all of them to have loaded.
        await w.page.waitForFunction(
          () => {
            const el = document.querySelector('[data-testid="worker-list"]')!;
            const top = Math.floor(el.scrollTop / 36) + 1;
            const rows = [...el.querySelectorAll('[role="row"]')];
            return rows.some((r) => r.getAttribute('aria-rowindex') === String(top)) && rows.every((r) => r.querySelector('[data-testid="worker-row"]'));
          },
          null,
          { polling: 50, timeout: 15_000 },
        );
        const probe = await w.page.evaluate(() => {
          const rows = [...document.querySelectorAll('[data-testid="worker-list"] [role="row"]')];
          const wrong = rows
            .map((r) => [Number(r.getAttribute('aria-rowindex')) - 1, r.querySelector('.w-name')?.textContent] as const)
            .filter(([index, name]) => name !== `work #${index}`);
          return { rows: rows.length, wrong: wrong.slice(0, 3), last: rows.at(-1)?.getAttribute('aria-rowindex') };
        });
        expect(probe.wrong, `at ${at * 100} %`).toEqual([]);
        rendered.push(probe.rows);
        if (at === 1) expect(probe.last).toBe('10000');
      }
      console.log(`rows in the DOM at 0/25/50/75/100 %: ${rendered.join(', ')}; list requests: ${w.apiRequests.length}`);
      for (const n of rendered) expect(n).toBeLessThanOrEqual(40);
      // 20 pages of 500 at most, plus the step and run once.
      expect(w.apiRequests.length).toBeLessThanOrEqual(24);
      expect(w.errors).toEqual([]);
    });
  }, 60_000);

  let flaky: { runId: number; stepId: number; counts: WireCounts };

  it('filters a step to its failed jobs, exactly those of the API', async () => {
    await saveDefinition(
      server,
      `id = "flaky"\nname = "Flaky"\n\n[step.fetch]\ntype = "synthetic"\ncount = 3000\nfailure_rate = 0.03\nmax_failures = "100%"\n`,
    );
    const runId = await execute(server, 'flaky');
    await waitForRunEnd(server, runId);
    const [step] = await stepsOf(server, runId);
    const counts = step!.progress!.counts;
    flaky = { runId, stepId: step!.id, counts };
    expect(counts.failed).toBeGreaterThan(0);
    const failedIds = await workerIds(server, step!.id, 'failed');
    expect(failedIds.length).toBe(counts.failed);

    await withPage(async (w) => {
      await w.page.goto(`${server.url}/#/runs/${runId}/steps/${step!.id}`);
      await w.page.getByTestId('worker-list').waitFor();
      await w.page.getByTestId('filter-failed').click();
      await w.page.waitForFunction((n) => document.querySelector('[data-testid="worker-list"]')?.getAttribute('data-count') === String(n), counts.failed, {
        timeout: 10_000,
      });
      // Scroll through the whole filtered list, collecting what it shows.
      const shown = new Map<number, string>();
      const list = w.page.getByTestId('worker-list');
      for (let guard = 0; guard < 100; guard++) {
        await w.page.waitForFunction(
          () => [...document.querySelectorAll('[data-testid="worker-list"] [role="row"]')].every((r) => r.querySelector('[data-testid="worker-row"]')),
          null,
          { polling: 50, timeout: 10_000 },
        );
        const rows = await w.page.evaluate(() =>
          [...document.querySelectorAll('[data-testid="worker-row"]')].map((r) => [Number(r.getAttribute('data-job-id')), r.getAttribute('data-status') ?? ''] as const),
        );
        for (const [id, status] of rows) shown.set(id, status);
        const atEnd = await list.evaluate((el) => {
          const end = el.scrollTop + el.clientHeight >= el.scrollHeight - 1;
          el.scrollTop += el.clientHeight * 0.8;
          return end;
        });
        if (atEnd) break;
      }
      expect([...shown.keys()].sort((a, b) => a - b)).toEqual([...failedIds].sort((a, b) => a - b));
      expect(new Set(shown.values())).toEqual(new Set(['failed']));
      await list.evaluate((el) => {
        el.scrollTop = 0;
      });
      await w.page.getByTestId('worker-row').first().click();
      await w.page.getByTestId('value-error').waitFor();
      await screenshot(w.page, 'job-detail');
      await w.page.getByTestId('filter-completed').click();
      await w.page.waitForFunction((n) => document.querySelector('[data-testid="worker-list"]')?.getAttribute('data-count') === String(n), counts.completed, {
        timeout: 10_000,
      });
      await w.page.getByTestId('filter-all').click();
      await w.page.waitForFunction(() => document.querySelector('[data-testid="worker-list"] [data-testid="worker-row"]') !== null, null, { timeout: 10_000 });
      await screenshot(w.page, 'step-list');
      expect(w.errors).toEqual([]);
    });
  }, 60_000);

  it('retries failed jobs from the page and reports what happened; the counts follow', async () => {
    expect(flaky).toBeDefined();
    await withPage(async (w) => {
      await w.page.goto(`${server.url}/#/runs/${flaky.runId}`);
      await waitForText(w.page, stepCounts(flaky.stepId), countsText(flaky.counts));
      const [someFailed] = await workerIds(server, flaky.stepId, 'failed');
      const attemptBefore = (await getJob(server, someFailed!)).attempt;
      const outcome = await confirmAction(w.page, `retry-${flaky.stepId}`);
      expect(outcome).toBe(`${fmt(flaky.counts.failed)} jobs retried.`);
      // The same jobs fail again (failures are a function of the job's place): the step ends with
      // the same counts (the retried jobs take less than a tick, so the page may never show them
      // pending), and the page shows exactly those.
      const step = await waitForJob(server, flaky.stepId, (j) => ['completed', 'failed'].includes(j.status) && j.progress!.counts.pending + j.progress!.counts.running === 0);
      await waitForText(w.page, stepCounts(flaky.stepId), countsText(step.progress!.counts), 5000);
      expect(step.progress!.counts.failed).toBe(flaky.counts.failed);
      expect((await getJob(server, someFailed!)).attempt).toBeGreaterThan(attemptBefore);

      // Nothing to retry on a step without failures: the dialog says so.
      await w.page.goto(`${server.url}/#/runs/${big.runId}`);
      await w.page.locator(stepCounts(big.stepId)).waitFor();
      expect(await confirmAction(w.page, `retry-${big.stepId}`)).toBe('Nothing to retry: no failed jobs.');
      expect(w.errors).toEqual([]);
    });
  }, 60_000);

  it('cancels a running run from the page; the counts follow', async () => {
    await saveDefinition(server, `id = "slow"\nname = "Slow"\n\n[step.crawl]\ntype = "synthetic"\ncount = 3000\nduration_ms = 40\n\n[step.after]\ntype = "synthetic"\ncount = 5\ndepends_on = "crawl"\n`);
    const runId = await execute(server, 'slow');
    const [crawl, after] = await stepsOf(server, runId);
    await withPage(async (w) => {
      await w.page.goto(`${server.url}/#/runs/${runId}`);
      await w.page.waitForFunction((sel) => /[1-9][\d,]* completed/.test(document.querySelector(sel)?.textContent ?? ''), stepCounts(crawl!.id), {
        polling: 50,
        timeout: 30_000,
      });
      const outcome = await confirmAction(w.page, `cancel-${runId}`);
      const m = /^([\d,]+) jobs cancelled\.$/.exec(outcome);
      expect(m, outcome).not.toBeNull();
      const run = await waitForRunEnd(server, runId);
      expect(run.status).toBe('cancelled');
      await waitForBadge(w.page, '[data-testid="run-head"]', 'cancelled', 5000);
      const crawlNow = await getJob(server, crawl!.id);
      const c = crawlNow.progress!.counts;
      expect(c.cancelled).toBeGreaterThan(0);
      expect(c.completed).toBeLessThan(3000);
      await waitForText(w.page, stepCounts(crawl!.id), countsText(c), 5000);
      // The next step never started.
      const afterNow = await getJob(server, after!.id);
      expect(afterNow.progress!.counts.completed).toBe(0);
      await waitForText(w.page, stepCounts(after!.id), countsText(afterNow.progress!.counts), 5000);
      expect(await badgeOf(w.page, stepCard(crawl!.id))).toBe('cancelled');
      expect(w.errors).toEqual([]);
    });
  }, 60_000);
});
