/**
 * The live socket: one per tab, shared by every view. It keeps the set of subscribed topics, sends
 * them again after a reconnect, and tells each topic's listeners when their snapshot must be loaded
 * again — once per cause:
 *
 * - same server epoch after a reconnect: topics are subscribed again with `since` = the last
 *   {epoch, seq} seen, so the server replays what was missed, or answers `resync` when it cannot;
 * - a new epoch (the server restarted) or no hello at all: topics are subscribed fresh and every
 *   listener reloads its snapshot once (the server has nothing to replay);
 * - a `resync` message for a topic: that topic's listeners reload once.
 *
 * Reloads requested for one topic within RELOAD_COALESCE_MS are merged into one. Messages arrive as
 * frames (JSON arrays); each topic's listeners get one call per frame with that topic's messages, so
 * a view re-renders at most once per server tick.
 */
import type { ClientMessage, ServerMessage } from '../../../src/wire/live.js';
import { authToken } from '../api/auth.js';

export type ConnectionState = 'connecting' | 'connected' | 'reconnecting' | 'offline';

export interface TopicListener {
  /** This topic's messages of one frame, in order. */
  onMessages(messages: ServerMessage[]): void;
  /** Load the topic's snapshot again (the pushed state may have gaps). */
  onResync(reason: string): void;
}

interface TopicState {
  listeners: Set<TopicListener>;
  /** The job ids on screen, for `step:` topics (null: no `view` sent, the server sends all). */
  view: number[] | null;
  viewSent: string | null;
  viewTimer: ReturnType<typeof setTimeout> | null;
  reloadTimer: ReturnType<typeof setTimeout> | null;
  reloadReason: string | null;
}

function newTopic(): TopicState {
  return {
    listeners: new Set(),
    view: null,
    viewSent: null,
    viewTimer: null,
    reloadTimer: null,
    reloadReason: null,
  };
}

const RELOAD_COALESCE_MS = 50;
const HELLO_TIMEOUT_MS = 2000;
const PING_EVERY_MS = 15_000;
/** No frame (not even a pong) for this long: the connection is dead even if TCP has not noticed. */
const SILENCE_LIMIT_MS = 40_000;
const BACKOFF_BASE_MS = 300;
const BACKOFF_MAX_MS = 5000;
/** After this many failed attempts in a row the indicator says offline (it keeps trying). */
const OFFLINE_AFTER_ATTEMPTS = 4;
/** `view` messages at most this often per topic while the user scrolls. */
const VIEW_THROTTLE_MS = 150;

export class LiveClient {
  private ws: WebSocket | null = null;
  private state: ConnectionState = 'connecting';
  private readonly stateListeners = new Set<(s: ConnectionState) => void>();
  private readonly readyWaiters = new Set<() => void>();
  private readonly topics = new Map<string, TopicState>();
  /** The epoch and last seq seen, kept across reconnects. */
  private epoch: string | null = null;
  private lastSeq = 0;
  /** True between hello (or its timeout) and the socket's close. */
  private ready = false;
  private attempt = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private helloTimer: ReturnType<typeof setTimeout> | null = null;
  private pingTimer: ReturnType<typeof setInterval> | null = null;
  private lastFrameAt = 0;
  private hasConnectedBefore = false;
  private stopped = false;
  private readonly url: string;

  constructor(url?: string) {
    const base = new URL('ws', window.location.href);
    base.protocol = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
    base.pathname = '/ws';
    base.search = '';
    base.hash = '';
    this.url = url ?? base.toString();
    window.addEventListener('online', () => this.reconnectNow());
  }

  start(): void {
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    this.clearTimers();
    this.ws?.close();
    this.ws = null;
  }

  getState(): ConnectionState {
    return this.state;
  }

  onState(listener: (s: ConnectionState) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  /** Resolves when the socket has said hello (or could not), so a view's snapshot follows its subscription. */
  whenReady(timeoutMs = 1500): Promise<void> {
    if (this.ready || this.state === 'offline') return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(t);
        this.readyWaiters.delete(done);
        resolve();
      };
      const t = setTimeout(done, timeoutMs);
      this.readyWaiters.add(done);
    });
  }

  subscribe(topic: string, listener: TopicListener): () => void {
    let t = this.topics.get(topic);
    if (!t) {
      t = newTopic();
      this.topics.set(topic, t);
    }
    if (t.listeners.size === 0 && this.ready) this.sendSubscribe(topic, t);
    t.listeners.add(listener);
    return () => {
      const cur = this.topics.get(topic);
      if (!cur) return;
      cur.listeners.delete(listener);
      if (cur.listeners.size > 0) return;
      if (cur.viewTimer) clearTimeout(cur.viewTimer);
      if (cur.reloadTimer) clearTimeout(cur.reloadTimer);
      this.topics.delete(topic);
      if (this.ready) this.send({ type: 'unsubscribe', topic });
    };
  }

  /** The job ids on screen for a `step:` topic; sent throttled, and again after a reconnect. */
  setView(topic: string, ids: number[]): void {
    // A view may be set before its topic's first listener subscribes (React runs a child's effects
    // before its parent's): it is kept and sent right after the subscribe.
    let t = this.topics.get(topic);
    if (!t) {
      t = newTopic();
      this.topics.set(topic, t);
    }
    t.view = ids.slice(0, 1000);
    if (t.viewTimer) return;
    this.flushView(topic, t);
    t.viewTimer = setTimeout(() => {
      t.viewTimer = null;
      this.flushView(topic, t);
    }, VIEW_THROTTLE_MS);
  }

  private flushView(topic: string, t: TopicState): void {
    if (!this.ready || t.view === null || t.listeners.size === 0 || this.topics.get(topic) !== t) return;
    const key = t.view.join(',');
    if (key === t.viewSent) return;
    t.viewSent = key;
    this.send({ type: 'view', topic, ids: t.view });
  }

  private setState(s: ConnectionState): void {
    if (this.state === s) return;
    this.state = s;
    for (const l of this.stateListeners) l(s);
    if (s === 'offline') this.releaseWaiters();
  }

  private releaseWaiters(): void {
    for (const w of [...this.readyWaiters]) w();
  }

  private connect(): void {
    if (this.stopped) return;
    const url = new URL(this.url);
    const token = authToken();
    if (token) url.searchParams.set('token', token);
    let ws: WebSocket;
    try {
      ws = new WebSocket(url.toString());
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      this.lastFrameAt = Date.now();
      this.helloTimer = setTimeout(() => this.onReady(null), HELLO_TIMEOUT_MS);
      this.pingTimer = setInterval(() => {
        if (Date.now() - this.lastFrameAt > SILENCE_LIMIT_MS) {
          ws.close();
          this.onClosed(ws);
          return;
        }
        this.send({ type: 'ping' });
      }, PING_EVERY_MS);
    };
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return;
      this.lastFrameAt = Date.now();
      this.onFrame(ev.data);
    };
    ws.onclose = () => this.onClosed(ws);
    // An error is always followed by close; the close handler reconnects.
    ws.onerror = () => undefined;
  }

  private onClosed(ws: WebSocket): void {
    if (this.ws !== ws) return;
    this.ws = null;
    this.ready = false;
    this.clearTimers();
    for (const t of this.topics.values()) t.viewSent = null;
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.reconnectTimer) return;
    this.attempt++;
    const offline = this.attempt > OFFLINE_AFTER_ATTEMPTS || (typeof navigator !== 'undefined' && navigator.onLine === false);
    this.setState(offline ? 'offline' : this.hasConnectedBefore ? 'reconnecting' : 'connecting');
    const exp = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.min(this.attempt - 1, 10));
    const delay = exp * (0.8 + Math.random() * 0.4);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect();
    }, delay);
  }

  private reconnectNow(): void {
    if (this.stopped || this.ws) return;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.connect();
  }

  private clearTimers(): void {
    if (this.helloTimer) clearTimeout(this.helloTimer);
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.helloTimer = null;
    this.pingTimer = null;
  }

  /** After hello (epoch known) or its timeout (null): subscribe every topic, reloading where needed. */
  private onReady(epoch: string | null): void {
    if (this.ready) return;
    if (this.helloTimer) clearTimeout(this.helloTimer);
    this.helloTimer = null;
    this.ready = true;
    const reconnect = this.hasConnectedBefore;
    const sameEpoch = epoch !== null && epoch === this.epoch;
    if (epoch !== null && epoch !== this.epoch) {
      this.epoch = epoch;
      this.lastSeq = 0;
    }
    this.hasConnectedBefore = true;
    this.attempt = 0;
    this.setState('connected');
    for (const [topic, t] of this.topics) {
      if (t.listeners.size === 0) continue;
      if (reconnect && sameEpoch && this.epoch !== null) {
        this.sendSubscribe(topic, t, { epoch: this.epoch, seq: this.lastSeq });
      } else {
        this.sendSubscribe(topic, t);
        if (reconnect) this.requestReload(topic, t, epoch === null ? 'reconnect' : 'new epoch');
      }
    }
    this.releaseWaiters();
  }

  /** Subscribes with the topic's view (the ids on screen) when it has one, so no other job's changes come first. */
  private sendSubscribe(topic: string, t: TopicState, since?: { epoch: string; seq: number }): void {
    const msg: ClientMessage = { type: 'subscribe', topic };
    if (since) msg.since = since;
    if (t.view !== null && topic.startsWith('step:')) {
      msg.ids = t.view;
      t.viewSent = t.view.join(',');
    }
    this.send(msg);
  }

  private onFrame(data: unknown): void {
    if (typeof data !== 'string') return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(data);
    } catch {
      return;
    }
    const messages = (Array.isArray(parsed) ? parsed : [parsed]) as ServerMessage[];
    const byTopic = new Map<string, ServerMessage[]>();
    for (const m of messages) {
      if (typeof m !== 'object' || m === null) continue;
      if (m.type === 'hello') {
        this.onReady(m.payload.epoch);
        continue;
      }
      if (typeof m.seq === 'number' && m.seq > this.lastSeq) this.lastSeq = m.seq;
      if (m.type === 'pong' || m.type === 'subscribed') continue;
      if (m.type === 'error') {
        console.warn(`stepq live: ${m.payload.code}: ${m.payload.message}`);
        continue;
      }
      const t = this.topics.get(m.topic);
      if (!t) continue;
      if (m.type === 'resync') {
        this.requestReload(m.topic, t, m.payload.reason);
        continue;
      }
      let list = byTopic.get(m.topic);
      if (!list) byTopic.set(m.topic, (list = []));
      list.push(m);
    }
    for (const [topic, list] of byTopic) {
      const t = this.topics.get(topic);
      if (!t) continue;
      for (const l of [...t.listeners]) l.onMessages(list);
    }
  }

  private requestReload(topic: string, t: TopicState, reason: string): void {
    t.reloadReason = reason;
    if (t.reloadTimer) return;
    t.reloadTimer = setTimeout(() => {
      t.reloadTimer = null;
      if (this.topics.get(topic) !== t) return;
      const why = t.reloadReason ?? reason;
      for (const l of [...t.listeners]) l.onResync(why);
    }, RELOAD_COALESCE_MS);
  }

  private send(msg: ClientMessage): void {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }
}

/** The tab's one live client. */
export const live = new LiveClient();
