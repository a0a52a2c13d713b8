/**
 * The live socket with real clients on 127.0.0.1: scoped topics, coalescing that bounds the message
 * rate by what a client watches, slow clients, and exact state after reconnects.
 */
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { ServerMessage } from '../../src/wire/live.js';
import { SYNTHETIC, testServer, type TestServer } from '../helpers/server.js';

let s: TestServer | null = null;
const sockets: WebSocket[] = [];
afterEach(async () => {
  for (const ws of sockets.splice(0)) ws.terminate();
  await s?.close();
  s = null;
});

interface Client {
  ws: WebSocket;
  messages: ServerMessage[];
  frames: number;
  send(msg: unknown): void;
  /** Resolves with the first message matching `pred` (already received or future), or rejects after `ms`. */
  waitFor(pred: (m: ServerMessage) => boolean, ms?: number): Promise<ServerMessage>;
}

async function connect(url: string, query = ''): Promise<Client> {
  const ws = new WebSocket(`${url.replace('http', 'ws')}/ws${query}`);
  sockets.push(ws);
  // Errors after the handshake settle show up as closed sockets in the assertions.
  ws.on('error', () => undefined);
  const client: Client = {
    ws,
    messages: [],
    frames: 0,
    send: (msg) => ws.send(JSON.stringify(msg)),
    waitFor(pred, ms = 20_000) {
      const found = client.messages.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching message within ${ms} ms`)), ms);
        const onMessage = (): void => {
          const m = client.messages.find(pred);
          if (m) {
            clearTimeout(timer);
            ws.off('message', onMessage);
            resolve(m);
          }
        };
        ws.on('message', onMessage);
      });
    },
  };
  ws.on('message', (data: Buffer) => {
    client.frames += 1;
    client.messages.push(...(JSON.parse(data.toString('utf8')) as ServerMessage[]));
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
    ws.once('unexpected-response', (req, res) => {
      req.destroy();
      ws.terminate();
      reject(new Error(`HTTP ${res.statusCode}`));
    });
  });
  await client.waitFor((m) => m.type === 'hello');
  return client;
}

async function startRun(server: TestServer, source: string): Promise<number> {
  const def = await server.app.inject({
    method: 'POST',
    url: '/api/job-definitions',
    headers: { 'content-type': 'application/toml' },
    payload: source,
  });
  expect(def.statusCode, def.body).toBe(201);
  const id = def.json().id as string;
  const r = await server.app.inject({ method: 'POST', url: `/api/job-definitions/${id}/execute`, payload: {} });
  expect(r.statusCode, r.body).toBe(202);
  return r.json().manager_id as number;
}

describe('live socket', () => {
  it('a run watcher gets exact final counts in a bounded number of messages, and no worker-job events', async () => {
    const tickMs = 100;
    s = await testServer({ concurrency: 50, tickMs, start: false });
    const url = await s.listen();
    // Create the run before workers start, so the watcher sees it from its first job.
    const runId = await startRun(s, SYNTHETIC('tenk', 10_000));
    const watcher = await connect(url);
    const idle = await connect(url);
    watcher.send({ type: 'subscribe', topic: `run:${runId}` });
    await watcher.waitFor((m) => m.type === 'subscribed');
    const started = Date.now();
    s.engine.start();
    const outcome = await s.engine.waitForRun(runId);
    const final = (await watcher.waitFor((m) => m.type === 'step_progress' && m.payload.status === 'completed')) as Extract<
      ServerMessage,
      { type: 'step_progress' }
    >;
    const durationMs = Date.now() - started;
    expect(outcome.manager.status).toBe('completed');
    expect(final.payload).toMatchObject({ pending: 0, running: 0, completed: 10_000, failed: 0, cancelled: 0, total: 10_000 });
    const managerFinal = await watcher.waitFor((m) => m.type === 'manager_progress' && m.payload.status === 'completed');
    expect(managerFinal.payload).toMatchObject({ completed: 10_000, total: 10_000 });

    // The bound: per tick at most one message per key the run view shows — the manager's and the
    // step's progress and their status changes (4 keys) — plus the subscription's own messages.
    const ticks = Math.ceil(durationMs / tickMs) + 2;
    const bound = ticks * 4 + 10;
    expect(watcher.messages.length).toBeLessThanOrEqual(bound);
    expect(watcher.messages.some((m) => m.type === 'job_status_change' && m.payload.kind === 'worker')).toBe(false);
    // 10,000 jobs made tens of thousands of events; the watcher got a few per tick.
    console.info(
      `run watcher: ${watcher.messages.length} messages in ${watcher.frames} frames over ${durationMs} ms (bound ${bound}) for 10,000 jobs`,
    );
    expect(idle.messages.map((m) => m.type)).toEqual(['hello']);
  });

  it('a step watcher with a view hears only the jobs on its screen', async () => {
    s = await testServer({ concurrency: 20, tickMs: 50, start: false });
    const url = await s.listen();
    const runId = await startRun(s, SYNTHETIC('view', 300, ['duration_ms = 1']));
    s.engine.start();
    await new Promise<void>((resolve) => {
      const off = s!.engine.bus.on('step_progress', (p) => {
        if (p.managerId === runId && p.counts.total === 300) {
          off();
          resolve();
        }
      });
    });
    // Stop the workers from going on until the watcher is in place: cancel nothing, just read ids.
    const stepId = (await s.engine.listJobs({ parentId: runId, kind: 'step', limit: 1 })).data[0]!.id;
    const jobs = (await s.engine.listJobs({ stepId, limit: 300 })).data.map((j) => j.id);
    const visible = jobs.slice(280, 290);
    const c = await connect(url);
    c.send({ type: 'subscribe', topic: `step:${stepId}`, ids: visible });
    await c.waitFor((m) => m.type === 'subscribed');
    await s.engine.waitForRun(runId);
    await c.waitFor((m) => m.type === 'step_progress' && m.payload.status === 'completed');
    const changed = c.messages.filter((m): m is Extract<ServerMessage, { type: 'job_status_change' }> => m.type === 'job_status_change');
    expect(changed.every((m) => visible.includes(m.payload.job_id))).toBe(true);
    const last = new Map(changed.map((m) => [m.payload.job_id, m.payload.status]));
    // Jobs visible and not yet done when the view arrived end as completed on the client.
    for (const status of last.values()) expect(['running', 'completed']).toContain(status);
  });

  it('a view sends the current state of the rows it adds', async () => {
    s = await testServer({ tickMs: 50 });
    const url = await s.listen();
    const runId = await startRun(s, SYNTHETIC('done-view', 20));
    await s.engine.waitForRun(runId);
    const stepId = (await s.engine.listJobs({ parentId: runId, kind: 'step', limit: 1 })).data[0]!.id;
    const ids = (await s.engine.listJobs({ stepId, limit: 5 })).data.map((j) => j.id);
    const c = await connect(url);
    c.send({ type: 'subscribe', topic: `step:${stepId}`, ids: ids.slice(0, 2) });
    await c.waitFor((m) => m.type === 'subscribed');
    c.send({ type: 'view', topic: `step:${stepId}`, ids: ids.slice(1, 5) });
    for (const id of ids) {
      const m = await c.waitFor((x) => x.type === 'job_status_change' && x.payload.job_id === id);
      expect(m.payload).toMatchObject({ status: 'completed', step_id: stepId });
    }
    // Row 1 was in both views: sent once.
    expect(c.messages.filter((m) => m.type === 'job_status_change' && m.payload.job_id === ids[1]).length).toBe(1);
  });

  it('a client that stops reading keeps server memory bounded and gets the newest state when it reads again', async () => {
    s = await testServer({ concurrency: 50, tickMs: 20, start: false });
    const url = await s.listen();
    const runId = await startRun(s, SYNTHETIC('slow-reader', 20_000));
    const c = await connect(url);
    c.send({ type: 'subscribe', topic: `run:${runId}` });
    await c.waitFor((m) => m.type === 'subscribed');
    const stepId = (await s.engine.listJobs({ parentId: runId, kind: 'step', limit: 1 })).data[0]!.id;
    c.send({ type: 'subscribe', topic: `step:${stepId}` });
    await c.waitFor((m) => m.type === 'subscribed' && m.topic === `step:${stepId}`);
    // Stop reading: the kernel buffers fill, the server's socket buffer grows, the hub holds back.
    const raw = (c.ws as unknown as { _socket: import('node:net').Socket })._socket;
    raw.pause();
    s.engine.start();
    let maxPending = 0;
    let maxBuffered = 0;
    const sampler = setInterval(() => {
      for (const conn of (s!.app.hub as unknown as { connections: Set<{ pendingSize: number; socket: { bufferedAmount: number } }> })
        .connections) {
        maxPending = Math.max(maxPending, conn.pendingSize);
        maxBuffered = Math.max(maxBuffered, conn.socket.bufferedAmount);
      }
    }, 5);
    await s.engine.waitForRun(runId);
    clearInterval(sampler);
    raw.resume();
    const final = await c
      .waitFor((m) => m.type === 'step_progress' && m.payload.status === 'completed' && m.topic === `run:${runId}`)
      .catch((err) => {
        console.info(
          'slow reader got',
          c.messages.length,
          'messages; last:',
          JSON.stringify(c.messages.slice(-3)).slice(0, 800),
          'bufferedAmount',
          (s!.app.hub as unknown as { connections: Set<{ socket: { bufferedAmount: number }; pendingSize: number }> }).connections,
        );
        throw err;
      });
    expect(final.payload).toMatchObject({ completed: 20_000, total: 20_000 });
    // Pending state per client never exceeded the per-topic cap (2000 job keys) plus the progress keys.
    expect(maxPending).toBeLessThanOrEqual(2000 + 10);
    expect(maxBuffered).toBeLessThanOrEqual(1024 * 1024 + 2 * 1024 * 1024);
    const stats = s.app.hub.stats;
    console.info(
      `slow reader: max pending keys ${maxPending}, max socket buffer ${maxBuffered} bytes, coalesced ${stats.coalesced}, resyncs ${stats.resyncs}, skipped flushes ${stats.skippedFlushes}`,
    );
  });

  it('replays what a reconnecting client missed, and asks for a resync when it cannot', async () => {
    s = await testServer({ concurrency: 10, tickMs: 50, start: false });
    const url = await s.listen();
    const first = await startRun(s, SYNTHETIC('replay', 50));
    const a = await connect(url);
    const hello = (await a.waitFor((m) => m.type === 'hello')) as Extract<ServerMessage, { type: 'hello' }>;
    a.send({ type: 'subscribe', topic: `run:${first}` });
    await a.waitFor((m) => m.type === 'subscribed');
    await a.waitFor((m) => m.type === 'manager_progress');
    const lastSeq = Math.max(...a.messages.map((m) => m.seq));
    a.ws.terminate();
    s.engine.start();
    await s.engine.waitForRun(first);

    const b = await connect(url);
    b.send({ type: 'subscribe', topic: `run:${first}`, since: { epoch: hello.payload.epoch, seq: lastSeq } });
    const sub = (await b.waitFor((m) => m.type === 'subscribed')) as Extract<ServerMessage, { type: 'subscribed' }>;
    expect(sub.payload.replayed).toBeGreaterThan(0);
    const replayedFinal = await b.waitFor((m) => m.type === 'manager_progress' && m.payload.status === 'completed');
    expect(replayedFinal.payload).toMatchObject({ completed: 50 });

    const c = await connect(url);
    c.send({ type: 'subscribe', topic: `run:${first}`, since: { epoch: 'an-old-server', seq: 12 } });
    const resync = await c.waitFor((m) => m.type === 'resync');
    expect(resync).toMatchObject({ topic: `run:${first}`, payload: { reason: expect.stringContaining('restarted') } });
  });

  it('streams log lines of a run to its logs topic', async () => {
    s = await testServer({ tickMs: 50, start: false });
    const url = await s.listen();
    const runId = await startRun(s, SYNTHETIC('logs', 5));
    const c = await connect(url);
    c.send({ type: 'subscribe', topic: `logs:${runId}` });
    await c.waitFor((m) => m.type === 'subscribed');
    s.engine.start();
    const log = (await c.waitFor((m) => m.type === 'job_log')) as Extract<ServerMessage, { type: 'job_log' }>;
    expect(log.payload.lines.some((l: { message: string }) => l.message.includes('Planned 5 worker jobs'))).toBe(true);
  });

  it('rejects bad topics and messages with an error, and the handshake without the token', async () => {
    s = await testServer({ token: 'tok', start: false });
    const url = await s.listen();
    await expect(connect(url)).rejects.toThrow(/401/);
    const c = await connect(url, '?token=tok');
    c.send({ type: 'subscribe', topic: 'everything' });
    const err = (await c.waitFor((m) => m.type === 'error')) as Extract<ServerMessage, { type: 'error' }>;
    expect(err.payload.message).toContain('Unknown topic');
    c.ws.send('not json');
    await c.waitFor((m) => m.type === 'error' && (m.payload as { message: string }).message.includes('JSON'));
    c.send({ type: 'ping' });
    await c.waitFor((m) => m.type === 'pong');
  });

  it('refuses topics whose id names no run, step or job, and subscribes nothing for them', async () => {
    s = await testServer({ tickMs: 50, start: false });
    const url = await s.listen();
    const runId = await startRun(s, SYNTHETIC('ids', 3));
    const c = await connect(url);
    type Err = Extract<ServerMessage, { type: 'error' }>;
    c.send({ type: 'subscribe', topic: 'run:999999' });
    const none = (await c.waitFor((m) => m.type === 'error')) as Err;
    expect(none.payload).toMatchObject({ code: 'ERR_NOT_FOUND', topic: 'run:999999' });
    expect(none.payload.message).toContain('No job 999999');
    c.send({ type: 'subscribe', topic: `step:${runId}` });
    const wrongKind = (await c.waitFor((m) => m.type === 'error' && (m as Err).payload.topic === `step:${runId}`)) as Err;
    expect(wrongKind.payload.message).toContain('not a step');
    c.send({ type: 'subscribe', topic: `logs:${runId}` });
    const ok = await c.waitFor((m) => m.type === 'subscribed');
    expect(ok).toMatchObject({ topic: `logs:${runId}` });
    // Nothing was subscribed for the refused topics: running the job sends no progress for them.
    s.engine.start();
    await s.engine.waitForRun(runId);
    await new Promise((r) => setTimeout(r, 150));
    const refused = new Set(['run:999999', `step:${runId}`]);
    expect(c.messages.filter((m) => m.type !== 'error' && 'topic' in m && refused.has(m.topic))).toEqual([]);
  });

  it('disconnects a client that floods messages, and keeps serving the others', async () => {
    s = await testServer({ tickMs: 50, start: false });
    const url = await s.listen();
    const flooder = await connect(url);
    const closed = new Promise<[number, string]>((resolve) =>
      flooder.ws.once('close', (code, reason) => resolve([code, reason.toString()])),
    );
    for (let i = 0; i < 1000; i++) flooder.send({ type: 'ping' });
    expect(await closed).toEqual([1008, 'more than 200 messages a second']);
    expect(flooder.messages.filter((m) => m.type === 'pong').length).toBeLessThanOrEqual(200);

    const other = await connect(url);
    other.send({ type: 'ping' });
    await other.waitFor((m) => m.type === 'pong');
    const health = await fetch(`${url}/healthz`);
    expect(health.status).toBe(200);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/^stepq_ws_clients_closed_total 1$/m);
  });
});
