/**
 * The hub's replay rules, driven directly (no sockets): what a reconnecting client gets when the
 * topic was recorded all along, and when it was not.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { LiveHub } from '../../src/server/live/hub.js';
import type { ServerMessage } from '../../src/wire/live.js';
import { testEngine, toml, type TestEngine } from '../helpers/engine.js';

let t: TestEngine | null = null;
let hub: LiveHub | null = null;
afterEach(async () => {
  hub?.close();
  await t?.close();
  hub = t = null;
});

function fakeSocket(): { sent: ServerMessage[]; socket: { send(d: string): void; bufferedAmount: number; close(): void } } {
  const sent: ServerMessage[] = [];
  return { sent, socket: { send: (d) => sent.push(...(JSON.parse(d) as ServerMessage[])), bufferedAmount: 0, close: () => undefined } };
}

describe('live hub replay', () => {
  it('replays within the grace period and asks for a resync after it', async () => {
    let now = 1_000_000;
    t = await testEngine({ start: false });
    hub = new LiveHub({ engine: t.engine, tickMs: 60_000, watchGraceMs: 60_000, now: () => now });
    const run = await t.engine.startRun({ definition: toml(['id = "h"', 'name = "H"', '[step.s]', 'type = "synthetic"', 'count = 3']) });
    const topic = `run:${run.managerId}`;

    const a = fakeSocket();
    const ca = hub.attach(a.socket);
    await hub.handle(ca, { type: 'subscribe', topic });
    await hub.tick();
    const lastSeq = Math.max(...a.sent.map((m) => m.seq));
    hub.detach(ca);

    // Within the grace period the topic is still recorded: events are replayed.
    t.engine.start();
    await t.engine.waitForRun(run.managerId);
    const b = fakeSocket();
    const cb = hub.attach(b.socket);
    await hub.handle(cb, { type: 'subscribe', topic, since: { epoch: hub.epoch, seq: lastSeq } });
    await hub.tick();
    expect(b.sent.some((m) => m.type === 'manager_progress' && m.payload.status === 'completed')).toBe(true);
    expect(b.sent.some((m) => m.type === 'resync')).toBe(false);
    const seenB = Math.max(...b.sent.map((m) => m.seq));
    hub.detach(cb);

    // Past the grace period nothing is recorded; a later change cannot be replayed: resync.
    now += 120_000;
    await t.engine.retry(run.managerId); // nothing to retry, but touch the topic through a new run
    const run2 = await t.engine.startRun({ definition: toml(['id = "h"', 'name = "H"', '[step.s]', 'type = "synthetic"', 'count = 1']) });
    await t.engine.waitForRun(run2.managerId);
    await t.engine.cancel(run.managerId); // already ended: no events; the topic simply was not watched
    const c = fakeSocket();
    const cc = hub.attach(c.socket);
    await hub.tick();
    await hub.handle(cc, { type: 'subscribe', topic, since: { epoch: hub.epoch, seq: seenB } });
    await hub.tick();
    expect(c.sent.find((m) => m.type === 'resync')).toMatchObject({ topic });
  });

  it('disconnects a client that keeps asking without reading the answers, instead of buffering them', async () => {
    t = await testEngine({ start: false });
    hub = new LiveHub({ engine: t.engine, tickMs: 60_000, limits: { maxBufferedBytes: 1000 } });
    const closed: Array<[number | undefined, string | undefined]> = [];
    let sentFrames = 0;
    const socket = {
      bufferedAmount: 0,
      send: () => void (sentFrames += 1),
      close: (code?: number, reason?: string) => void closed.push([code, reason]),
    };
    const conn = hub.attach(socket);
    await hub.handle(conn, { type: 'ping' });
    expect(sentFrames).toBe(2); // hello, pong
    socket.bufferedAmount = 1500; // slow, not yet abusive: answers still go out
    await hub.handle(conn, { type: 'ping' });
    expect(sentFrames).toBe(3);
    socket.bufferedAmount = 5000; // its answers pile up unread
    await hub.handle(conn, { type: 'ping' });
    await hub.handle(conn, { type: 'ping' });
    expect(sentFrames).toBe(3);
    expect(closed).toEqual([[1008, 'the client does not read its messages']]);
    expect(hub.stats.closed).toBe(1);
  });
});
