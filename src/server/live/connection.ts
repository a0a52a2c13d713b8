/**
 * One client of the live hub: its topics, its view of step lists, and the coalescing buffer that is
 * flushed once per tick. The buffer holds the newest message per key, so what a client is sent per
 * tick is bounded by what it watches, whatever the job rate.
 */
import type { ServerMessage } from '../../wire/live.js';

export interface LiveSocket {
  send(data: string): void;
  readonly bufferedAmount: number;
  close(code?: number, reason?: string): void;
}

export interface ConnectionLimits {
  /** Above this many bytes waiting in the socket, the client is slow: keep coalescing, send nothing. */
  maxBufferedBytes: number;
  /** Most keys waiting per topic before the topic is replaced by one `resync`. */
  maxPendingPerTopic: number;
  /** Most log lines per topic per tick (the newest are kept). */
  maxLogLinesPerTick: number;
  /** Most topics one connection may hold. */
  maxTopics: number;
  /** Most ids in one step `view`. */
  maxViewIds: number;
  /** Most messages a client may send per second; a client sending more is disconnected. */
  maxMessagesPerSecond: number;
}

export type Unsequenced = ServerMessage extends infer M ? (M extends { seq: number } ? Omit<M, 'seq'> : never) : never;

interface Pending {
  seq: number;
  msg: ServerMessage;
}

export interface ConnectionStats {
  sent: number;
  coalesced: number;
  dropped: number;
  resyncs: number;
  skippedFlushes: number;
  /** Connections closed for flooding or for not reading. */
  closed: number;
}

export class LiveConnection {
  readonly topics = new Set<string>();
  /** Step topics narrowed to the ids on screen. */
  readonly views = new Map<string, Set<number>>();
  private readonly pending = new Map<string, Pending>();
  private readonly perTopic = new Map<string, number>();
  private windowStart = 0;
  private windowCount = 0;
  alive = true;

  constructor(
    readonly socket: LiveSocket,
    private readonly limits: ConnectionLimits,
    private readonly stats: ConnectionStats,
  ) {}

  get pendingSize(): number {
    return this.pending.size;
  }

  /** Whether a worker job's change should reach this client for a `step:` topic. */
  wantsJob(topic: string, jobId: number): boolean {
    const view = this.views.get(topic);
    return view === undefined || view.has(jobId);
  }

  /** Narrows a step topic to `ids`; returns the ids that were not in view before (or null if not subscribed). */
  setView(topic: string, ids: number[]): number[] | null {
    if (!this.topics.has(topic)) return null;
    const before = this.views.get(topic);
    const next = new Set(ids.slice(0, this.limits.maxViewIds));
    this.views.set(topic, next);
    return [...next].filter((id) => !before?.has(id));
  }

  /**
   * Queues a message under `key`, replacing an older one (state, not commands). Progress snapshots
   * carry their time: an older snapshot never replaces a newer one.
   */
  enqueue(key: string, seq: number, msg: ServerMessage): void {
    const topic = 'topic' in msg ? msg.topic : '';
    const existing = this.pending.get(key);
    if (existing) {
      const oldAt = (existing.msg.payload as { at?: number }).at;
      const newAt = (msg.payload as { at?: number }).at;
      if (oldAt !== undefined && newAt !== undefined && newAt < oldAt) return;
      if (msg.type === 'job_status_change' && existing.msg.type === 'job_status_change') {
        if (seq < existing.seq || jobOrder(msg.payload) < jobOrder(existing.msg.payload)) return;
      }
      if (msg.type === 'job_log' && existing.msg.type === 'job_log') {
        msg = mergeLogs(existing.msg, msg, this.limits.maxLogLinesPerTick);
      }
      this.stats.coalesced += 1;
      this.pending.set(key, { seq, msg: { ...msg, seq } as ServerMessage });
      return;
    }
    const count = (this.perTopic.get(topic) ?? 0) + 1;
    if (count > this.limits.maxPendingPerTopic && msg.type === 'job_status_change') {
      this.replaceWithResync(topic, seq, 'more changes than a client is sent at once; reload the snapshot');
      return;
    }
    this.perTopic.set(topic, count);
    if (msg.type === 'job_log' && msg.payload.lines.length > this.limits.maxLogLinesPerTick) {
      const lines = msg.payload.lines;
      msg = {
        ...msg,
        payload: {
          ...msg.payload,
          lines: lines.slice(-this.limits.maxLogLinesPerTick),
          dropped: msg.payload.dropped + lines.length - this.limits.maxLogLinesPerTick,
        },
      };
    }
    this.pending.set(key, { seq, msg: { ...msg, seq } as ServerMessage });
  }

  /** Drops everything queued for `topic` and asks the client to reload it instead. */
  replaceWithResync(topic: string, seq: number, reason: string): void {
    for (const [key, p] of this.pending) {
      if ('topic' in p.msg && p.msg.topic === topic) {
        this.pending.delete(key);
        this.stats.dropped += 1;
      }
    }
    this.perTopic.set(topic, 1);
    this.stats.resyncs += 1;
    this.pending.set(`resync:${topic}`, { seq, msg: { type: 'resync', seq, topic, payload: { reason } } });
  }

  forgetTopic(topic: string): void {
    this.topics.delete(topic);
    this.views.delete(topic);
    for (const [key, p] of this.pending) if ('topic' in p.msg && p.msg.topic === topic) this.pending.delete(key);
    this.perTopic.delete(topic);
  }

  /** Sends what is queued as one frame, unless the client is not keeping up. Returns messages sent. */
  flush(): number {
    if (this.pending.size === 0 || !this.alive) return 0;
    if (this.socket.bufferedAmount > this.limits.maxBufferedBytes) {
      this.stats.skippedFlushes += 1;
      return 0;
    }
    const frame = [...this.pending.values()].sort((a, b) => a.seq - b.seq).map((p) => p.msg);
    this.pending.clear();
    this.perTopic.clear();
    this.socket.send(JSON.stringify(frame));
    this.stats.sent += frame.length;
    return frame.length;
  }

  /**
   * Counts one message from the client; false (and the connection closed) when it sends more than
   * its rate allows. A page sends a few messages a second; a flood only costs the server.
   */
  admit(now: number): boolean {
    if (!this.alive) return false;
    if (now - this.windowStart >= 1000) {
      this.windowStart = now;
      this.windowCount = 0;
    }
    this.windowCount += 1;
    if (this.windowCount <= this.limits.maxMessagesPerSecond) return true;
    this.drop(1008, `more than ${this.limits.maxMessagesPerSecond} messages a second`);
    return false;
  }

  /**
   * Sends at once (answers to the client's own requests: hello, subscribed, pong, errors). A client
   * that keeps asking without reading the answers is disconnected rather than buffered without end.
   */
  sendNow(msgs: ServerMessage[]): void {
    if (!this.alive) return;
    if (this.socket.bufferedAmount > this.limits.maxBufferedBytes * 2) {
      this.drop(1008, 'the client does not read its messages');
      return;
    }
    this.socket.send(JSON.stringify(msgs));
    this.stats.sent += msgs.length;
  }

  private drop(code: number, reason: string): void {
    this.alive = false;
    this.pending.clear();
    this.perTopic.clear();
    this.stats.closed += 1;
    this.socket.close(code, reason);
  }
}

/**
 * Where a job's state stands in its life: attempts only grow, and within one attempt a job goes
 * pending → running → ended. A state read earlier (a view's first look) never replaces a later one.
 */
export function jobOrder(p: { attempt: number; status: string }): number {
  const rank = p.status === 'pending' ? 0 : p.status === 'running' ? 1 : 2;
  return p.attempt * 3 + rank;
}

function mergeLogs(
  a: Extract<ServerMessage, { type: 'job_log' }>,
  b: Extract<ServerMessage, { type: 'job_log' }>,
  max: number,
): Extract<ServerMessage, { type: 'job_log' }> {
  const lines = [...a.payload.lines, ...b.payload.lines];
  const dropped = a.payload.dropped + b.payload.dropped + Math.max(0, lines.length - max);
  return { ...b, payload: { ...b.payload, lines: lines.slice(-max), dropped } };
}
