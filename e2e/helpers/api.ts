/**
 * Data for the browser tests, made through the public HTTP API, and waits on it (bounded polls of
 * the API, never sleeps that hope something happened).
 */
import type { WireCounts, WireJob, WireJobDetail, WirePage, WireStarted } from '../../src/wire/api.js';
import type { TestServer } from './server.js';

export async function saveDefinition(server: TestServer, toml: string): Promise<void> {
  await server.api('POST', '/api/job-definitions', toml, 'application/toml');
}

export async function execute(server: TestServer, id: string, params: Record<string, unknown> = {}): Promise<number> {
  return (await server.api<WireStarted>('POST', `/api/job-definitions/${encodeURIComponent(id)}/execute`, { params })).manager_id;
}

export function getJob(server: TestServer, id: number): Promise<WireJobDetail> {
  return server.api<WireJobDetail>('GET', `/api/jobs/${id}`);
}

export async function stepsOf(server: TestServer, runId: number): Promise<WireJob[]> {
  return (await server.api<WirePage<WireJob>>('GET', `/api/jobs?parent_id=${runId}&kind=step&limit=100`)).data;
}

/** All worker job ids of a step with one of `statuses` (following cursors). */
export async function workerIds(server: TestServer, stepId: number, statuses: string): Promise<number[]> {
  const ids: number[] = [];
  let cursor: string | null = null;
  do {
    const qs: string = `step_id=${stepId}&kind=worker&status=${statuses}&limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const page: WirePage<WireJob> = await server.api<WirePage<WireJob>>('GET', `/api/jobs?${qs}`);
    ids.push(...page.data.map((j) => j.id));
    cursor = page.next_cursor;
  } while (cursor);
  return ids;
}

export const TERMINAL = ['completed', 'failed', 'cancelled'];

/** Polls the job until `done` says so (every 100 ms, at most `timeoutMs`). */
export async function waitForJob(
  server: TestServer,
  id: number,
  done: (j: WireJobDetail) => boolean,
  timeoutMs = 30_000,
): Promise<WireJobDetail> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await getJob(server, id);
    if (done(job)) return job;
    if (Date.now() > deadline) throw new Error(`job ${id} did not reach the expected state in ${timeoutMs} ms (status ${job.status})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function waitForRunEnd(server: TestServer, runId: number, timeoutMs = 60_000): Promise<WireJobDetail> {
  return waitForJob(server, runId, (j) => TERMINAL.includes(j.status), timeoutMs);
}

/** The counts sentence the page shows (see web/src/format.ts). */
export function countsText(c: WireCounts): string {
  const n = (x: number): string => x.toLocaleString('en-US');
  const parts = [`${n(c.pending)} pending`, `${n(c.running)} running`, `${n(c.completed)} completed`, `${n(c.failed)} failed`];
  if (c.cancelled > 0) parts.push(`${n(c.cancelled)} cancelled`);
  return parts.join(', ');
}
