/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * Waits on what the page shows (bounded, polled in the page) and small DOM probes.
 */
import type { Page } from 'playwright-core';

/** Waits until the element's text equals `text`. */
export async function waitForText(page: Page, selector: string, text: string, timeoutMs = 30_000): Promise<void> {
  try {
    await page.waitForFunction(([sel, want]) => document.querySelector(sel)?.textContent === want, [selector, text] as const, {
      polling: 50,
      timeout: timeoutMs,
    });
  } catch (err) {
    const shown = await page.evaluate((sel) => document.querySelector(sel)?.textContent ?? '(no element)', selector);
    throw new Error(`${selector}: expected "${text}", page shows "${shown}" (${(err as Error).message.split('\n')[0]})`, { cause: err });
  }
}

export function textOf(page: Page, selector: string): Promise<string> {
  return page.evaluate((sel) => document.querySelector(sel)?.textContent ?? '', selector);
}

/** The status shown by the first status badge inside `selector`. */
export function badgeOf(page: Page, selector: string): Promise<string | null> {
  return page.evaluate((sel) => document.querySelector(`${sel} [data-status]`)?.getAttribute('data-status') ?? null, selector);
}

export async function waitForBadge(page: Page, selector: string, status: string, timeoutMs = 30_000): Promise<void> {
  await page.waitForFunction(
    ([sel, want]) => document.querySelector(`${sel} [data-status]`)?.getAttribute('data-status') === want,
    [selector, status] as const,
    { polling: 50, timeout: timeoutMs },
  );
}

/** Records every status the first badge inside `selector` shows from now on (read with seenStatuses). */
export async function recordStatuses(page: Page, selector: string): Promise<void> {
  await page.evaluate((sel) => {
    const seen = new Set<string>();
    const look = (): void => {
      const s = document.querySelector(`${sel} [data-status]`)?.getAttribute('data-status');
      if (s) seen.add(s);
    };
    look();
    new MutationObserver(look).observe(document.body, {
      subtree: true,
      childList: true,
      attributes: true,
      characterData: true,
    });
    (window as unknown as { __seen: Set<string> }).__seen = seen;
  }, selector);
}

export function seenStatuses(page: Page): Promise<string[]> {
  return page.evaluate(() => [...(window as unknown as { __seen: Set<string> }).__seen]);
}

/** Clicks an action button, confirms in the dialog, and returns the outcome the dialog reports. */
export async function confirmAction(page: Page, testId: string): Promise<string> {
  await page.getByTestId(testId).click();
  await page.locator('dialog[open] [data-testid="confirm"]').click();
  const outcome = page.locator('dialog[open] [data-testid="action-outcome"]');
  await outcome.waitFor({ timeout: 15_000 });
  const text = (await outcome.textContent()) ?? '';
  await page.locator('dialog[open] [data-testid="dialog-close"]').click();
  return text;
}

/**
 * Scrolls the worker list from where it is to its end, 80 % of a screen at a time, and returns each
 * job it showed with the status shown (waiting at each stop until every row on screen has its job).
 */
export async function collectWorkerRows(page: Page, maxStops = 1000): Promise<Map<number, string>> {
  const shown = new Map<number, string>();
  const list = page.getByTestId('worker-list');
  for (let stop = 0; stop < maxStops; stop++) {
    await page.waitForFunction(
      () =>
        [...document.querySelectorAll('[data-testid="worker-list"] [role="row"]')].every((r) =>
          r.querySelector('[data-testid="worker-row"]'),
        ),
      null,
      { polling: 50, timeout: 10_000 },
    );
    const rows = await page.evaluate(() =>
      [...document.querySelectorAll('[data-testid="worker-row"]')].map(
        (r) => [Number(r.getAttribute('data-job-id')), r.getAttribute('data-status') ?? ''] as const,
      ),
    );
    for (const [id, status] of rows) shown.set(id, status);
    const atEnd = await list.evaluate((el) => {
      const end = el.scrollTop + el.clientHeight >= el.scrollHeight - 1;
      el.scrollTop += el.clientHeight * 0.8;
      return end;
    });
    if (atEnd) return shown;
  }
  throw new Error(`the worker list did not end within ${maxStops} screens`);
}
