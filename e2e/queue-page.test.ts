/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
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
import { openPage, screenshot, type WatchedPage } from './helpers/browser.js';
import {
  badgeOf,
  collectWorkerRows,
  confirmAction,
  recordStatuses,
  seenStatuses,
  textOf,
  waitForBadge,
  waitForText,
} from './helpers/page.js';
import { startServer, startSuite, stopSuite, type TestServer } from './helpers/server.js';

let server: TestServer;
let browser: Browser;

beforeAll(async () => {
  ({ server, browser } = await startSuite({ concurrency: 16 }));
}, 120_000);

afterAll(() => stopSuite(server, browser));

/** Runs `fn` with a fresh page, and closes it whatever happens. */
async function withPage<T>(fn: (w: WatchedPage) => Promise<T>, size?: { width: number; height: number }): Promise<T> {
  const w = await openPage(browser, size);
  try {
    return await fn(w);
  } finally {
    await w.close();
  }
}

/** Rows of the long list the jump test reads (STEPQ_E2E_LIST_ROWS=1000000 for the full size). */
const HUGE_ROWS = Number(process.env.STEPQ_E2E_LIST_ROWS ?? 250_000);

interface Jump {
  /** Index of the first row on screen. */
  top: number;
  rows: number;
  /** Rows on screen whose name is not the job of their index ("work #<index>"). */
  wrong: Array<readonly [number, string | null | undefined]>;
  last: string | null | undefined;
  /** Page requests the jump cost, and how long until every row on screen showed. */
  requests: number;
  ms: number;
}

/**
 * Scrolls the worker list to `fraction` of its height and waits until every row on screen shows
 * its job; returns what it shows and what it cost. Past 8 million px the list scales its scroll
 * offset (see worker-list.tsx): the row at the top is scrollTop × scale / 36.
 */
async function jumpTo(w: WatchedPage, fraction: number): Promise<Jump> {
  const before = w.apiRequests.length;
  const started = Date.now();
  await w.page.getByTestId('worker-list').evaluate((el, f) => {
    el.scrollTop = (el.scrollHeight - el.clientHeight) * f;
  }, fraction);
  const top = await w.page.waitForFunction(
    () => {
      const el = document.querySelector('[data-testid="worker-list"]')!;
      const count = Number(el.getAttribute('data-count'));
      const scale = Math.max(1, (count * 36) / 8_000_000);
      const first = Math.floor((el.scrollTop * scale) / 36);
      const rows = [...el.querySelectorAll('[role="row"]')];
      const ready =
        rows.some((r) => r.getAttribute('aria-rowindex') === String(first + 1)) &&
        rows.every((r) => r.querySelector('[data-testid="worker-row"]'));
      return ready ? { first } : null;
    },
    null,
    { polling: 20, timeout: 15_000 },
  );
  const ms = Date.now() - started;
  const probe = await w.page.evaluate(() => {
    const rows = [...document.querySelectorAll('[data-testid="worker-list"] [role="row"]')];
    const wrong = rows
      .map((r) => [Number(r.getAttribute('aria-rowindex')) - 1, r.querySelector('.w-name')?.textContent] as const)
      .filter(([index, name]) => name !== `work #${index}`);
    return { rows: rows.length, wrong: wrong.slice(0, 3), last: rows.at(-1)?.getAttribute('aria-rowindex') };
  });
  return { top: ((await top.jsonValue()) as { first: number }).first, ...probe, requests: w.apiRequests.length - before, ms };
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
      await w.page.waitForFunction(
        (sel) => /[1-9][\d,]* completed/.test(document.querySelector(sel)?.textContent ?? ''),
        stepCounts(stepId),
        {
          polling: 50,
          timeout: 30_000,
        },
      );
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
      await w.page.waitForFunction(
        () => document.querySelector('[data-testid="worker-list"]')?.getAttribute('data-count') === '10000',
        null,
        {
          timeout: 10_000,
        },
      );
      const rendered: number[] = [];
      const perJump: number[] = [];
      for (const at of [0, 0.5, 0.25, 0.75, 1, 0.5]) {
        const jump = await jumpTo(w, at);
        expect(jump.wrong, `at ${at * 100} %`).toEqual([]);
        rendered.push(jump.rows);
        perJump.push(jump.requests);
        if (at === 1) expect(jump.last).toBe('10000');
      }
      console.log(
        `rows in the DOM at 0/50/25/75/100/50 %: ${rendered.join(', ')}; requests per jump: ${perJump.join(', ')}; ` +
          `all requests: ${w.apiRequests.length}`,
      );
      for (const n of rendered) expect(n).toBeLessThanOrEqual(40);
      // A jump anywhere reads the page(s) it lands on by row number: one request, two when the
      // screen spans two pages; none for a page still held.
      for (const n of perJump) expect(n).toBeLessThanOrEqual(2);
      expect(perJump.at(-1)).toBe(0);
      // Besides the jumps: the step, the run and the first page, once.
      expect(w.apiRequests.length).toBeLessThanOrEqual(3 + perJump.reduce((a, b) => a + b, 0));
      expect(w.errors).toEqual([]);
    });
  }, 60_000);

  it(
    `jumps anywhere in a ${fmt(HUGE_ROWS)}-job list of a running step in one or two requests`,
    async () => {
      await saveDefinition(
        server,
        `id = "huge"\nname = "Huge"\n\n[step.work]\ntype = "synthetic"\ncount = ${HUGE_ROWS}\nduration_ms = 3600000\n`,
      );
      const runId = await execute(server, 'huge');
      const [step] = await stepsOf(server, runId);
      try {
        // The fan-out is written in batches (~30,000 jobs/s here); the list is read once it is whole.
        await waitForJob(server, step!.id, (j) => j.progress?.counts.total === HUGE_ROWS, HUGE_ROWS / 5);
        await withPage(async (w) => {
          await w.page.goto(`${server.url}/#/runs/${runId}/steps/${step!.id}`);
          await w.page.waitForFunction(
            (n) => document.querySelector('[data-testid="worker-list"]')?.getAttribute('data-count') === String(n),
            HUGE_ROWS,
            { timeout: 10_000 },
          );
          const report: string[] = [];
          let jumped = 0;
          for (const at of [0, 0.5, 0.25, 1, 0.75]) {
            const jump = await jumpTo(w, at);
            expect(jump.wrong, `at ${at * 100} %`).toEqual([]);
            expect(jump.requests, `at ${at * 100} %`).toBeLessThanOrEqual(2);
            if (jump.requests > 0) jumped++;
            report.push(`${at * 100} %: row ${fmt(jump.top)}, ${jump.requests} request(s), ${jump.ms} ms`);
          }
          console.log(`jumps in a ${fmt(HUGE_ROWS)}-job list: ${report.join('; ')}`);
          await screenshot(w.page, 'worker-list-jump');
          // Each jump read the page it landed on by row number (and the next by its cursor); the
          // running step's pushes cost nothing.
          const byOffset = w.apiRequests.filter((r) => new URL(r.url()).searchParams.has('offset'));
          expect(byOffset).toHaveLength(jumped);
          expect(w.errors).toEqual([]);
        });
      } finally {
        // Frees the workers for the tests after this one. The step, not the run: cancelling a run
        // with more than ~120,000 unfinished jobs fails on the server (see the report of this test).
        await server.api('POST', `/api/jobs/${step!.id}/cancel`, {});
        await waitForRunEnd(server, runId, HUGE_ROWS / 5);
      }
    },
    60_000 + HUGE_ROWS / 2,
  );

  it('moves through the worker list with the keyboard and opens a job with Enter', async () => {
    expect(big).toBeDefined();
    await withPage(async (w) => {
      await w.page.goto(`${server.url}/#/runs/${big.runId}/steps/${big.stepId}`);
      await w.page.getByTestId('worker-row').first().waitFor();
      const list = w.page.getByTestId('worker-list');
      /**
       * The active row as the grid reports it to assistive technology, and whether it is on screen;
       * once the row the keys moved to has rendered with its job.
       */
      const active = async () => {
        await w.page.waitForFunction(
          () => {
            const grid = document.querySelector('[data-testid="worker-list"]')!;
            const cell = document.getElementById(grid.getAttribute('aria-activedescendant') ?? '');
            const row = cell?.closest('[role="row"]');
            return (
              !!cell?.getAttribute('data-job-id') &&
              Number(row?.getAttribute('aria-rowindex')) - 1 === Number(grid.getAttribute('data-active'))
            );
          },
          null,
          { polling: 20, timeout: 10_000 },
        );
        return w.page.evaluate(() => {
          const grid = document.querySelector('[data-testid="worker-list"]')!;
          const cell = document.getElementById(grid.getAttribute('aria-activedescendant') ?? '');
          const box = cell?.getBoundingClientRect();
          const view = grid.getBoundingClientRect();
          return {
            focused: document.activeElement === grid,
            index: Number(grid.getAttribute('data-active')),
            name: cell?.querySelector('.w-name')?.textContent ?? null,
            jobId: Number(cell?.getAttribute('data-job-id')),
            visible: !!box && box.top >= view.top - 1 && box.bottom <= view.bottom + 1,
            ring: cell ? getComputedStyle(cell).boxShadow : 'none',
            outline: getComputedStyle(grid).outlineStyle,
          };
        });
      };
      // Tab from the search box lands on the list (one tab stop), on its first row, with visible focus.
      await w.page.getByTestId('job-search').focus();
      await w.page.keyboard.press('Tab');
      let a = await active();
      expect(a).toMatchObject({ focused: true, index: 0, name: 'work #0', visible: true, outline: 'solid' });
      expect(a.ring).not.toBe('none');
      for (let i = 0; i < 3; i++) await w.page.keyboard.press('ArrowDown');
      expect(await active()).toMatchObject({ index: 3, name: 'work #3', visible: true });
      await w.page.keyboard.press('ArrowUp');
      await w.page.keyboard.press('PageDown');
      a = await active();
      const pageRows = a.index - 2;
      expect(pageRows).toBeGreaterThan(3);
      expect(a).toMatchObject({ name: `work #${a.index}`, visible: true });
      await w.page.keyboard.press('PageUp');
      expect((await active()).index).toBe(2);
      // End: the last row, read by row number, in a request or two.
      const before = w.apiRequests.length;
      await w.page.keyboard.press('End');
      expect(await active()).toMatchObject({ index: 9999, name: 'work #9999', visible: true });
      expect(w.apiRequests.length - before).toBeLessThanOrEqual(2);
      await w.page.keyboard.press('Home');
      expect(await active()).toMatchObject({ index: 0, name: 'work #0', visible: true });
      await w.page.keyboard.press('ArrowDown');
      a = await active();
      expect(a).toMatchObject({ index: 1, name: 'work #1', visible: true });
      // Enter opens the details of the active row's job; the list keeps focus.
      await w.page.keyboard.press('Enter');
      await w.page.waitForURL(new RegExp(`job=${a.jobId}$`));
      await waitForText(w.page, '[data-testid="job-detail"] h2', 'work #1', 10_000);
      expect((await active()).focused).toBe(true);
      await screenshot(w.page, 'worker-list-keyboard');
      await w.page.keyboard.press('Escape');
      await w.page.waitForFunction(() => !window.location.hash.includes('job='));
      expect(await w.page.getByTestId('job-detail').count()).toBe(0);
      expect(await list.getAttribute('data-active')).toBe('1');
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
      await w.page.waitForFunction(
        (n) => document.querySelector('[data-testid="worker-list"]')?.getAttribute('data-count') === String(n),
        counts.failed,
        {
          timeout: 10_000,
        },
      );
      // Scroll through the whole filtered list, collecting what it shows.
      const shown = await collectWorkerRows(w.page, 100);
      const list = w.page.getByTestId('worker-list');
      expect([...shown.keys()].sort((a, b) => a - b)).toEqual([...failedIds].sort((a, b) => a - b));
      expect(new Set(shown.values())).toEqual(new Set(['failed']));
      await list.evaluate((el) => {
        el.scrollTop = 0;
      });
      await w.page.getByTestId('worker-row').first().click();
      await w.page.getByTestId('value-error').waitFor();
      await screenshot(w.page, 'job-detail');
      await w.page.getByTestId('filter-completed').click();
      await w.page.waitForFunction(
        (n) => document.querySelector('[data-testid="worker-list"]')?.getAttribute('data-count') === String(n),
        counts.completed,
        {
          timeout: 10_000,
        },
      );
      await w.page.getByTestId('filter-all').click();
      await w.page.waitForFunction(() => document.querySelector('[data-testid="worker-list"] [data-testid="worker-row"]') !== null, null, {
        timeout: 10_000,
      });
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
      const step = await waitForJob(
        server,
        flaky.stepId,
        (j) => ['completed', 'failed'].includes(j.status) && j.progress!.counts.pending + j.progress!.counts.running === 0,
      );
      await waitForText(w.page, stepCounts(flaky.stepId), countsText(step.progress!.counts), 5000);
      expect(step.progress!.counts.failed).toBe(flaky.counts.failed);
      expect((await getJob(server, someFailed!)).attempt).toBeGreaterThan(attemptBefore);

      // Nothing to retry on a completed step without failures: the button is disabled.
      await w.page.goto(`${server.url}/#/runs/${big.runId}`);
      await w.page.locator(stepCounts(big.stepId)).waitFor();
      expect(await w.page.getByTestId(`retry-${big.stepId}`).isDisabled()).toBe(true);
      expect(await w.page.getByTestId(`retry-${big.runId}`).isDisabled()).toBe(true);
      expect(w.errors).toEqual([]);
    });
  }, 60_000);

  it('cancels a running run from the page; the counts follow', async () => {
    await saveDefinition(
      server,
      `id = "slow"\nname = "Slow"\n\n[step.crawl]\ntype = "synthetic"\ncount = 3000\nduration_ms = 40\n\n[step.after]\ntype = "synthetic"\ncount = 5\ndepends_on = "crawl"\n`,
    );
    const runId = await execute(server, 'slow');
    const [crawl, after] = await stepsOf(server, runId);
    await withPage(async (w) => {
      await w.page.goto(`${server.url}/#/runs/${runId}`);
      await w.page.waitForFunction(
        (sel) => /[1-9][\d,]* completed/.test(document.querySelector(sel)?.textContent ?? ''),
        stepCounts(crawl!.id),
        {
          polling: 50,
          timeout: 30_000,
        },
      );
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

  it('shows hostile names, errors, payloads and log lines as text, and runs none of them', async () => {
    const module = join(server.dir, 'hostile.mjs');
    writeFileSync(module, HOSTILE_MODULE);
    await saveDefinition(
      server,
      [
        'id = "hostile"',
        `name = ${JSON.stringify(HOSTILE.img + ' ' + HOSTILE.script + ' ' + HOSTILE.emoji)}`,
        '',
        '[step.evil]',
        'type = "script"',
        `module = ${JSON.stringify(module)}`,
        'max_failures = "100%"',
        '',
      ].join('\n'),
    );
    const runId = await execute(server, 'hostile');
    await waitForRunEnd(server, runId);
    const [step] = await stepsOf(server, runId);
    const [first] = await workerIds(server, step!.id, 'failed');
    expect(first).toBeDefined();

    await withPage(async (w) => {
      const body = (): Promise<string> => w.page.evaluate(() => document.body.textContent ?? '');
      const noScriptRan = async (): Promise<void> => {
        expect(await w.page.evaluate(() => (window as unknown as { __pwned?: unknown }).__pwned)).toBeUndefined();
        expect(await w.page.evaluate(() => document.querySelectorAll('main img, main script').length)).toBe(0);
        expect(w.dialogs).toEqual([]);
      };
      const definitionName = HOSTILE.img + ' ' + HOSTILE.script + ' ' + HOSTILE.emoji;

      await w.page.goto(`${server.url}/#/runs`);
      await w.page.getByTestId(`run-row-${runId}`).waitFor();
      expect(await textOf(w.page, `[data-testid="run-row-${runId}"] .cell-name a`)).toBe(definitionName);
      await noScriptRan();

      await w.page.goto(`${server.url}/#/runs/${runId}`);
      await w.page.locator(stepCounts(step!.id)).waitFor();
      expect(await textOf(w.page, '[data-testid="run-head"] h1')).toBe(definitionName);
      await w.page.locator(`${stepCard(step!.id)} .events-toggle`).click();
      await w.page
        .locator(`${stepCard(step!.id)} .log-msg`)
        .first()
        .waitFor();
      await screenshot(w.page, 'hostile-run', true);
      const logs = await w.page.evaluate(
        (sel) => [...document.querySelectorAll(`${sel} .log-msg`)].map((e) => e.textContent ?? ''),
        stepCard(step!.id),
      );
      expect(logs).toContain(`log ${HOSTILE.img} ${HOSTILE.script} ${HOSTILE.emoji} ${HOSTILE.nul}`);
      await noScriptRan();

      await w.page.goto(`${server.url}/#/runs/${runId}/steps/${step!.id}?job=${first}`);
      await w.page.getByTestId('value-error').waitFor();
      await w.page.locator('[data-testid="job-detail"] .log-msg').first().waitFor();
      const text = await body();
      for (const s of [HOSTILE.img, HOSTILE.script, HOSTILE.emoji, `boom ${HOSTILE.img} ${HOSTILE.script}`]) expect(text).toContain(s);
      // NUL reaches the page as a character of the text (browsers may show it as nothing).
      expect(text).toContain('nul:\u0000:end');
      const error = await textOf(w.page, '[data-testid="value-error"] pre');
      expect(error).toContain(`boom ${HOSTILE.img} ${HOSTILE.script} ${HOSTILE.nul}`);
      await screenshot(w.page, 'hostile-job-detail');
      await noScriptRan();
      expect(w.errors).toEqual([]);
    });
  }, 60_000);

  it('validates, saves and runs definitions from the page, with issues on their lines', async () => {
    await withPage(async (w) => {
      await w.page.goto(`${server.url}/#/definitions`);
      await w.page.getByTestId('def-row-load-1000').waitFor();
      await screenshot(w.page, 'definitions');

      await w.page.goto(`${server.url}/#/definitions/new`);
      await w.page.getByTestId('definition-editor').fill(INVALID_DEFINITION);
      await w.page.getByTestId('validate').click();
      await w.page.getByTestId('issues').waitFor();
      const issueLines = await w.page.evaluate(() =>
        [...document.querySelectorAll('[data-issue="true"]')].map((e) => Number(e.getAttribute('data-line'))),
      );
      const validation = await server.api<{
        valid: boolean;
        issues: Array<{ line?: number }>;
      }>('POST', '/api/job-definitions/validate', INVALID_DEFINITION, 'application/toml');
      expect(validation.valid).toBe(false);
      const expectedLines = [...new Set(validation.issues.map((i) => i.line).filter((l): l is number => l !== undefined))].sort(
        (a, b) => a - b,
      );
      expect(expectedLines.length).toBeGreaterThan(0);
      expect(issueLines).toEqual(expectedLines);
      await screenshot(w.page, 'definition-issues', true);

      await w.page.getByTestId('definition-editor').fill(PARAMS_DEFINITION);
      await w.page.getByTestId('save').click();
      await w.page.getByTestId('params-form').waitFor();
      expect(w.page.url()).toContain('#/definitions/with-params');
      await screenshot(w.page, 'definition', true);
      // Required param left empty: the form says so and starts nothing.
      await w.page.getByLabel(/count/).fill('');
      await w.page.getByTestId('run-definition').click();
      await w.page.locator('.param-error').waitFor();
      await w.page.getByLabel(/count/).fill('25');
      await w.page.getByLabel(/label/).fill('from the page');
      await w.page.getByTestId('run-definition').click();
      await w.page.waitForURL(/#\/runs\/\d+$/, { timeout: 10_000 });
      const runId = Number(/#\/runs\/(\d+)$/.exec(w.page.url())![1]);
      const run = await waitForRunEnd(server, runId);
      expect(run.run?.params).toMatchObject({
        count: 25,
        label: 'from the page',
      });
      const [step] = await stepsOf(server, runId);
      await waitForText(w.page, stepCounts(step!.id), '0 pending, 0 running, 25 completed, 0 failed', 10_000);
      expect(w.errors).toEqual([]);
    });
  }, 60_000);

  it('lists runs live: new runs appear, stats and progress move, without polling', async () => {
    await saveDefinition(server, TICK_DEFINITION);
    await withPage(async (w) => {
      await w.page.goto(`${server.url}/#/runs`);
      await runsPageLoaded(w);
      const initial = w.apiRequests.length;
      const statsBefore = await server.api<{ runs: WireCounts }>('GET', '/api/stats');
      const runs = [await execute(server, 'tick'), await execute(server, 'tick')];
      for (const id of runs) await w.page.getByTestId(`run-row-${id}`).waitFor({ timeout: 10_000 });
      for (const id of runs) await waitForRunEnd(server, id);
      for (const id of runs) {
        const c = (await getJob(server, id)).progress!.counts;
        await waitForText(w.page, `[data-testid="run-row-${id}"] .counts`, countsText(c), 5000);
        await waitForBadge(w.page, `[data-testid="run-row-${id}"]`, 'completed', 5000);
      }
      await waitForText(w.page, '[data-testid="stats"] .stat:nth-child(6) .stat-value', fmt(statsBefore.runs.total + 2), 5000);
      // New runs are placed from their pushes: no request at all, whatever their number.
      expect(w.apiRequests.slice(initial).map((r) => r.url())).toEqual([]);
      expect(await firstRunRows(w, 2)).toEqual([runs[1], runs[0]]);
      // Filters live in the URL.
      await w.page.getByRole('button', { name: 'Completed', exact: true }).click();
      await w.page.waitForURL(/status=completed/);
      await w.page.locator('[data-testid^="run-row-"]').first().waitFor();
      const shown = await w.page.evaluate(() =>
        [...document.querySelectorAll('[data-testid^="run-row-"] [data-status]')].map((e) => e.getAttribute('data-status')),
      );
      expect(new Set(shown)).toEqual(new Set(['completed']));
      expect(w.errors).toEqual([]);
    });
  }, 60_000);

  it('places new runs under filters from their pushes: those that match, when they match, and no others', async () => {
    await saveDefinition(server, TICK_DEFINITION);
    await saveDefinition(server, `id = "other"\nname = "Other tick"\n\n[step.work]\ntype = "synthetic"\ncount = 50\n`);
    await withPage(async (w) => {
      // Completed runs of "tick" whose name contains "TICK" (any case, as the server matches).
      await w.page.goto(`${server.url}/#/runs?status=completed&definition=tick&q=TICK`);
      await runsPageLoaded(w);
      await w.page.waitForFunction(() => document.querySelector('select')?.value === 'tick');
      const initial = w.apiRequests.length;
      const tick = await execute(server, 'tick');
      const other = await execute(server, 'other');
      await waitForRunEnd(server, tick);
      await waitForRunEnd(server, other);
      // The tick run shows once it completes (it ran unseen: it did not match while running).
      await waitForBadge(w.page, `[data-testid="run-row-${tick}"]`, 'completed', 5000);
      await waitForText(w.page, `[data-testid="run-row-${tick}"] .counts`, countsText((await getJob(server, tick)).progress!.counts), 5000);
      expect(await firstRunRows(w, 1)).toEqual([tick]);
      expect(await w.page.getByTestId(`run-row-${other}`).count()).toBe(0);
      expect(w.apiRequests.slice(initial).map((r) => r.url())).toEqual([]);
      // What the server lists under the same filters, in the same order.
      const listed = await server.api<{ data: Array<{ id: number }> }>(
        'GET',
        '/api/jobs?parent_id=root&status=completed&definition_id=tick&q=TICK&order=desc&limit=50',
      );
      expect(await firstRunRows(w, listed.data.length)).toEqual(listed.data.map((r) => r.id));
      expect(w.errors).toEqual([]);
    });
  }, 60_000);

  it('loads more runs than one page with "Load more", in one request each', async () => {
    await saveDefinition(server, `id = "many"\nname = "Many"\n\n[step.work]\ntype = "synthetic"\ncount = 1\n`);
    const started: number[] = [];
    for (let i = 0; i < 57; i++) started.push(await execute(server, 'many'));
    for (const id of started) await waitForRunEnd(server, id);
    const newestFirst = [...started].sort((a, b) => b - a);
    await withPage(async (w) => {
      await w.page.goto(`${server.url}/#/runs?definition=many`);
      await w.page.getByTestId(`run-row-${newestFirst[0]}`).waitFor();
      expect(await firstRunRows(w, 100)).toEqual(newestFirst.slice(0, 50));
      await w.page.getByTestId('load-more').scrollIntoViewIfNeeded();
      await screenshot(w.page, 'runs-load-more');
      const before = w.apiRequests.length;
      await w.page.getByTestId('load-more').click();
      await w.page.getByTestId(`run-row-${newestFirst[56]}`).waitFor({ timeout: 10_000 });
      expect(await firstRunRows(w, 100)).toEqual(newestFirst);
      // Everything is loaded: the button is gone.
      expect(await w.page.getByTestId('load-more').count()).toBe(0);
      const more = w.apiRequests.slice(before).map((r) => new URL(r.url()));
      expect(more).toHaveLength(1);
      expect(more[0]!.pathname).toBe('/api/jobs');
      expect(more[0]!.searchParams.get('definition_id')).toBe('many');
      expect(more[0]!.searchParams.get('cursor')).not.toBeNull();
      expect(w.errors).toEqual([]);
    });
  }, 120_000);

  it('runs a run again and deletes a finished run from the page, reporting what happened', async () => {
    await saveDefinition(server, TICK_DEFINITION);
    const first = await execute(server, 'tick');
    await waitForRunEnd(server, first);
    await withPage(async (w) => {
      await w.page.goto(`${server.url}/#/runs/${first}`);
      await waitForBadge(w.page, '[data-testid="run-head"]', 'completed');
      const outcome = await confirmAction(w.page, `rerun-${first}`);
      const m = /^Run #(\d+) started\.$/.exec(outcome);
      expect(m, outcome).not.toBeNull();
      const second = Number(m![1]);
      await w.page.waitForURL(new RegExp(`#/runs/${second}$`));
      const again = await waitForRunEnd(server, second);
      expect(again.run?.definition_id).toBe('tick');
      expect(again.status).toBe('completed');
      await waitForBadge(w.page, '[data-testid="run-head"]', 'completed', 5000);

      const total = (await getJob(server, first)).progress!.counts.total;
      await w.page.goto(`${server.url}/#/runs/${first}`);
      await waitForBadge(w.page, '[data-testid="run-head"]', 'completed');
      const deleted = await confirmAction(w.page, `delete-${first}`);
      // The run, its step and its worker jobs.
      expect(deleted).toMatch(new RegExp(`^Deleted ${fmt(total + 2)} jobs and [\\d,]+ log lines?\\.$`));
      await w.page.waitForURL(/#\/runs$/);
      await expect(server.api('GET', `/api/jobs/${first}`)).rejects.toThrow(/404/);
      expect(w.errors).toEqual([]);
    });
  }, 60_000);

  it('shows each view at 1280×800 and in a narrow window', async () => {
    const chatty = join(server.dir, 'chatty.mjs');
    writeFileSync(chatty, CHATTY_MODULE);
    await saveDefinition(
      server,
      `id = "chatty"\nname = "Chatty crawl"\n\n[step.fetch]\ntype = "script"\nmodule = ${JSON.stringify(chatty)}\n`,
    );
    const runId = await execute(server, 'chatty');
    await waitForRunEnd(server, runId);
    const [step] = await stepsOf(server, runId);
    await withPage(async (w) => {
      await w.page.goto(`${server.url}/#/runs`);
      await w.page.getByTestId(`run-row-${runId}`).waitFor();
      await screenshot(w.page, 'runs');
      await w.page.goto(`${server.url}/#/runs/${big.runId}`);
      await w.page.locator(stepCounts(big.stepId)).waitFor();
      await screenshot(w.page, 'run');
      await w.page.goto(`${server.url}/#/runs/${runId}/steps/${step!.id}`);
      await w.page.getByTestId('worker-row').first().waitFor();
      await w.page.locator('.page > .events .events-toggle').click();
      await w.page.locator('.page > .events .log-msg').first().waitFor();
      await w.page.locator('.page > .events').scrollIntoViewIfNeeded();
      await screenshot(w.page, 'events-panel');
      expect(w.errors).toEqual([]);
    });
    await withPage(
      async (w) => {
        await w.page.goto(`${server.url}/#/runs`);
        await w.page.getByTestId(`run-row-${runId}`).waitFor();
        await screenshot(w.page, 'narrow-runs');
        await w.page.goto(`${server.url}/#/runs/${flaky.runId}`);
        await w.page.locator(stepCounts(flaky.stepId)).waitFor();
        await screenshot(w.page, 'narrow-run', true);
        await w.page.goto(`${server.url}/#/runs/${flaky.runId}/steps/${flaky.stepId}`);
        await w.page.getByTestId('worker-row').first().waitFor();
        await screenshot(w.page, 'narrow-step');
        const overflow = await w.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        expect(overflow).toBeLessThanOrEqual(0);
        expect(w.errors).toEqual([]);
      },
      { width: 400, height: 800 },
    );
  }, 60_000);

  it('takes the token from its address once, keeps it for the tab, and sends it on every request and the socket', async () => {
    const secured = await startServer({ token: 's3cret-token' });
    try {
      await saveDefinition(secured, TICK_DEFINITION);
      const runId = await execute(secured, 'tick');
      await withPage(async (w) => {
        const sockets: string[] = [];
        w.page.on('websocket', (ws) => sockets.push(ws.url()));
        await w.page.goto(`${secured.url}/?token=s3cret-token#/runs/${runId}`);
        await w.page.getByTestId('run-head').waitFor();
        await w.page.waitForFunction(
          () => document.querySelector('[data-testid="connection"]')?.getAttribute('data-state') === 'connected',
          null,
          {
            timeout: 10_000,
          },
        );
        expect(w.page.url()).toBe(`${secured.url}/#/runs/${runId}`);
        expect(await w.page.evaluate(() => sessionStorage.getItem('stepq.token'))).toBe('s3cret-token');
        for (const r of w.apiRequests) expect(await r.headerValue('authorization')).toBe('Bearer s3cret-token');
        expect(sockets.at(-1)).toContain('token=s3cret-token');
        // A reload of the tab keeps working without the token in the address.
        await w.page.reload();
        await w.page.getByTestId('run-head').waitFor();
        await waitForRunEnd(secured, runId);
        await waitForBadge(w.page, '[data-testid="run-head"]', 'completed', 5000);
      });
      // Without the token the page says what is wrong instead of showing nothing.
      await withPage(async (w) => {
        await w.page.goto(`${secured.url}/#/runs`);
        await w.page.getByRole('alert').waitFor();
        expect(await w.page.getByRole('alert').textContent()).toContain('ERR_UNAUTHORIZED');
      });
    } finally {
      await secured.stop();
      secured.cleanup();
    }
  }, 60_000);

  // Last: it restarts the server.
  it('recovers from a server restart mid-run and ends exact', async () => {
    await saveDefinition(server, `id = "restart"\nname = "Restart"\n\n[step.work]\ntype = "synthetic"\ncount = 6000\nduration_ms = 8\n`);
    const runId = await execute(server, 'restart');
    const [step] = await stepsOf(server, runId);
    await withPage(async (w) => {
      await w.page.goto(`${server.url}/#/runs/${runId}`);
      await w.page.waitForFunction(
        (sel) => /[1-9][\d,]* completed/.test(document.querySelector(sel)?.textContent ?? ''),
        stepCounts(step!.id),
        {
          polling: 50,
          timeout: 30_000,
        },
      );
      expect(await w.page.getByTestId('connection').getAttribute('data-state')).toBe('connected');
      await server.stop();
      await w.page.waitForFunction(
        () => document.querySelector('[data-testid="connection"]')?.getAttribute('data-state') !== 'connected',
        null,
        {
          polling: 50,
          timeout: 10_000,
        },
      );
      const before = w.apiRequests.length;
      await server.start();
      await w.page.waitForFunction(
        () => document.querySelector('[data-testid="connection"]')?.getAttribute('data-state') === 'connected',
        null,
        {
          polling: 100,
          timeout: 20_000,
        },
      );
      const run = await waitForRunEnd(server, runId, 60_000);
      expect(run.status).toBe('completed');
      const final = (await getJob(server, step!.id)).progress!.counts;
      expect(final.completed).toBe(6000);
      await waitForText(w.page, stepCounts(step!.id), countsText(final), 5000);
      await waitForBadge(w.page, '[data-testid="run-head"]', 'completed', 5000);
      // One reload of the run's snapshot (the run and its steps) after the restart, nothing more.
      const after = w.apiRequests.length - before;
      console.log(`requests after the restart: ${after}`);
      expect(after).toBeLessThanOrEqual(2);
      // Errors of requests that failed while the server was down are the browser's, not the page's.
      expect(w.errors.filter((e) => !/ERR_CONNECTION_REFUSED|WebSocket/.test(e))).toEqual([]);
    });
  }, 90_000);
});

/** Waits until the runs list, its stats and its definitions have loaded (what follows is live). */
async function runsPageLoaded(w: WatchedPage): Promise<void> {
  await w.page.locator('.runs-table, .empty').first().waitFor();
  await w.page.waitForFunction(() => document.querySelector('[data-testid="stats"] .stat-value')?.textContent !== '—');
  await w.page.waitForFunction(() => (document.querySelector('select')?.options.length ?? 0) > 1);
}

/** Ids of the first `n` rows of the runs list, top to bottom. */
function firstRunRows(w: WatchedPage, n: number): Promise<number[]> {
  return w.page.evaluate(
    (max) =>
      [...document.querySelectorAll('[data-testid^="run-row-"]')]
        .slice(0, max)
        .map((e) => Number(e.getAttribute('data-testid')!.slice('run-row-'.length))),
    n,
  );
}

const TICK_DEFINITION = `id = "tick"\nname = "Tick"\n\n[step.work]\ntype = "synthetic"\ncount = 400\nduration_ms = 10\n`;

const HOSTILE = {
  img: '<img src=x onerror="window.__pwned=\'img\'">',
  script: '<script>window.__pwned="script"</script>',
  emoji: '🔥💥👩‍💻',
  nul: 'nul:\u0000:end',
  long: 'L'.repeat(20_000),
};

const HOSTILE_MODULE = `
const H = ${JSON.stringify(HOSTILE)};
export default {
  *plan() {
    yield [
      { key: 'a', name: H.img + ' ' + H.emoji, payload: { html: H.script, nul: H.nul } },
      { key: 'b', name: H.script + ' ' + H.nul, payload: {} },
      { key: 'c', name: 'long ' + H.long, payload: { long: H.long } },
    ];
  },
  async run(job, ctx) {
    ctx.log('error', 'log ' + H.img + ' ' + H.script + ' ' + H.emoji + ' ' + H.nul);
    ctx.log('warn', 'long ' + H.long);
    throw new Error('boom ' + H.img + ' ' + H.script + ' ' + H.nul + ' ' + H.long);
  },
};
`;

const CHATTY_MODULE = `
export default {
  *plan() {
    const pages = ['index.html', 'about.html', 'pricing.html', 'blog/2024/launch.html', 'docs/getting-started.html', 'contact.html'];
    yield pages.map((p, i) => ({ key: p, name: 'https://example.test/' + p, payload: { url: 'https://example.test/' + p, n: i } }));
  },
  async run(job, ctx) {
    ctx.log('debug', 'GET ' + job.payload.url);
    ctx.log('info', 'fetched ' + job.payload.url + ': 200, ' + (1200 + job.payload.n * 311) + ' bytes');
    if (job.payload.n % 3 === 1) ctx.log('warn', 'slow response from ' + job.payload.url + ' (1.8 s)');
    if (job.payload.n === 4) ctx.log('error', 'link check: /old-docs returned 404');
    return { url: job.payload.url, links: job.payload.n * 3 };
  },
};
`;

const INVALID_DEFINITION = `id = "broken"
name = "Broken"

[step.first]
type = "synthetic"
count = "many"

[step.second]
type = "no-such-type"
depends_on = "first"
`;

const PARAMS_DEFINITION = `id = "with-params"
name = "With params"
description = "Runs count synthetic jobs."

[params.count]
type = "integer"
description = "How many jobs"

[params.label]
type = "string"
default = "nightly"

[step.work]
type = "synthetic"
count = "{{params.count}}"
`;
