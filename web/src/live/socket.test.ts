import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ClientMessage, ServerMessage } from '../../../src/wire/live.js';

/** A WebSocket the test drives: it records what the client sends and delivers frames on demand. */
class FakeSocket {
  static OPEN = 1;
  static all: FakeSocket[] = [];
  readyState = 0;
  sent: ClientMessage[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((ev: { data: string }) => void) | null = null;
  onclose: (() => void) | null = null;
  onerror: (() => void) | null = null;
  constructor(readonly url: string) {
    FakeSocket.all.push(this);
  }
  send(data: string): void {
    this.sent.push(JSON.parse(data) as ClientMessage);
  }
  close(): void {
    this.readyState = 3;
    this.onclose?.();
  }
  open(): void {
    this.readyState = 1;
    this.onopen?.();
  }
  frame(messages: ServerMessage[]): void {
    this.onmessage?.({ data: JSON.stringify(messages) });
  }
  hello(epoch: string, seq = 1): void {
    this.frame([{ type: 'hello', seq, payload: { epoch, tick_ms: 250 } }]);
  }
}

let LiveClient: typeof import('./socket.js').LiveClient;

beforeAll(async () => {
  vi.stubGlobal('window', { location: { href: 'http://127.0.0.1:7700/', protocol: 'http:' }, addEventListener: () => undefined });
  vi.stubGlobal('WebSocket', FakeSocket);
  ({ LiveClient } = await import('./socket.js'));
});

beforeEach(() => {
  vi.useFakeTimers();
  FakeSocket.all = [];
});
afterEach(() => vi.useRealTimers());

function progress(seq: number, topic: string): ServerMessage {
  return {
    type: 'step_progress',
    seq,
    topic,
    payload: {
      step_id: 2,
      manager_id: 1,
      name: 's',
      status: 'running',
      pending: 1,
      running: 0,
      completed: 0,
      failed: 0,
      cancelled: 0,
      total: 1,
      rate_per_sec: 0,
      eta_ms: null,
      started_at: 0,
      finished_at: null,
      at: seq,
    },
  };
}

function listener() {
  return {
    messages: [] as ServerMessage[][],
    resyncs: [] as string[],
    onMessages(m: ServerMessage[]) {
      this.messages.push(m);
    },
    onResync(r: string) {
      this.resyncs.push(r);
    },
  };
}

describe('LiveClient', () => {
  it('subscribes after hello, and with since = the last {epoch, seq} after a reconnect to the same server', async () => {
    const client = new LiveClient();
    const l = listener();
    client.subscribe('run:1', l);
    client.start();
    const first = FakeSocket.all[0]!;
    first.open();
    first.hello('e1', 1);
    expect(first.sent).toEqual([{ type: 'subscribe', topic: 'run:1' }]);
    first.frame([progress(5, 'run:1'), progress(6, 'run:1')]);
    expect(l.messages).toHaveLength(1);
    expect(client.getState()).toBe('connected');

    first.close();
    expect(client.getState()).toBe('reconnecting');
    await vi.advanceTimersByTimeAsync(1000);
    const second = FakeSocket.all[1]!;
    second.open();
    second.hello('e1', 7);
    expect(second.sent).toEqual([{ type: 'subscribe', topic: 'run:1', since: { epoch: 'e1', seq: 6 } }]);
    await vi.advanceTimersByTimeAsync(100);
    expect(l.resyncs).toEqual([]);
    client.stop();
  });

  it('after a server restart (new epoch) subscribes fresh and reloads each topic once, even if resync also comes', async () => {
    const client = new LiveClient();
    const a = listener();
    const b = listener();
    client.subscribe('run:1', a);
    client.subscribe('logs:1', b);
    client.start();
    FakeSocket.all[0]!.open();
    FakeSocket.all[0]!.hello('e1');
    FakeSocket.all[0]!.close();
    await vi.advanceTimersByTimeAsync(1000);
    const s = FakeSocket.all[1]!;
    s.open();
    s.hello('e2');
    expect(s.sent).toEqual([
      { type: 'subscribe', topic: 'run:1' },
      { type: 'subscribe', topic: 'logs:1' },
    ]);
    s.frame([{ type: 'resync', seq: 3, topic: 'run:1', payload: { reason: 'test' } }]);
    await vi.advanceTimersByTimeAsync(100);
    expect(a.resyncs).toHaveLength(1);
    expect(b.resyncs).toHaveLength(1);
    client.stop();
  });

  it("sends a step topic's view with its subscribe, and later views only when they change", async () => {
    const client = new LiveClient();
    client.setView('step:2', [10, 11]);
    client.subscribe('step:2', listener());
    client.start();
    const s = FakeSocket.all[0]!;
    s.open();
    s.hello('e1');
    expect(s.sent).toEqual([{ type: 'subscribe', topic: 'step:2', ids: [10, 11] }]);
    client.setView('step:2', [10, 11]);
    await vi.advanceTimersByTimeAsync(200);
    client.setView('step:2', [12, 13]);
    await vi.advanceTimersByTimeAsync(200);
    expect(s.sent.slice(1)).toEqual([{ type: 'view', topic: 'step:2', ids: [12, 13] }]);
    client.stop();
  });

  it('backs off while the server is down and says offline after a few attempts', async () => {
    const client = new LiveClient();
    client.start();
    for (let i = 0; i < 6; i++) {
      FakeSocket.all.at(-1)!.close();
      await vi.advanceTimersByTimeAsync(6000);
    }
    expect(client.getState()).toBe('offline');
    const s = FakeSocket.all.at(-1)!;
    s.open();
    s.hello('e1');
    expect(client.getState()).toBe('connected');
    client.stop();
  });
});
