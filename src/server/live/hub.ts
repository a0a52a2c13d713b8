/**
 * The live hub: routes engine events to the clients that subscribed to them, coalesced per client
 * and flushed on a fixed tick. See ARCHITECTURE.md beside this file.
 */
import { randomBytes } from 'node:crypto';
import type { JobLogBatch, JobStatusChange, ManagerProgress, StepProgress } from '../../core/events.js';
import type { Stepq } from '../../engine/engine.js';
import type { ClientMessage, ServerMessage } from '../../wire/live.js';
import { liveJobChange, liveManagerProgress, liveStepProgress, wireCounts, wireLogBatchLines } from '../wire-mappers.js';
import { JOB_ID_TEXT } from '../schemas.js';
import { LiveConnection, type ConnectionLimits, type ConnectionStats, type LiveSocket } from './connection.js';

export interface HubOptions {
  engine: Stepq;
  /** Flush period; the message rate per client is at most (keys on screen) per tick. */
  tickMs?: number;
  limits?: Partial<ConnectionLimits>;
  /** Messages kept for replay after a reconnect (`since`). */
  historySize?: number;
  /** A topic keeps being recorded for replay this long after its last subscriber left. */
  watchGraceMs?: number;
  now?: () => number;
}

const TOPIC = new RegExp(`^(runs|(run|step|logs):${JOB_ID_TEXT})$`);

interface Recorded {
  seq: number;
  topic: string;
  key: string;
  msg: ServerMessage;
}

export class LiveHub {
  readonly epoch = randomBytes(6).toString('hex');
  readonly tickMs: number;
  readonly stats: ConnectionStats = { sent: 0, coalesced: 0, dropped: 0, resyncs: 0, skippedFlushes: 0, closed: 0 };
  private seq = 0;
  private readonly connections = new Set<LiveConnection>();
  private readonly subscribers = new Map<string, Set<LiveConnection>>();
  /** Topics recently watched (by time the last subscriber left), still recorded for replay. */
  private readonly lingering = new Map<string, number>();
  /**
   * The seq from which each recorded topic has been recorded without a break: a client asking to
   * replay from before it missed messages that were never recorded, and gets a resync.
   */
  private readonly recordedSince = new Map<string, number>();
  private readonly history: Ring<Recorded>;
  private readonly limits: ConnectionLimits;
  private readonly historySize: number;
  private readonly graceMs: number;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | null = null;
  private statsDirty = false;
  private readonly offs: Array<() => void> = [];

  constructor(private readonly o: HubOptions) {
    this.tickMs = o.tickMs ?? 250;
    this.limits = {
      maxBufferedBytes: 1024 * 1024,
      maxPendingPerTopic: 2000,
      maxLogLinesPerTick: 200,
      maxTopics: 64,
      maxViewIds: 1000,
      maxMessagesPerSecond: 200,
      ...o.limits,
    };
    this.historySize = o.historySize ?? 20_000;
    this.history = new Ring(this.historySize);
    this.graceMs = o.watchGraceMs ?? 60_000;
    this.now = o.now ?? Date.now;
    const bus = o.engine.bus;
    this.offs.push(
      bus.on('job_status_change', (e) => this.onJobChange(e)),
      bus.on('step_progress', (e) => this.onStepProgress(e)),
      bus.on('manager_progress', (e) => this.onManagerProgress(e)),
      bus.on('job_log', (e) => this.onLog(e)),
      bus.on('stats_change', () => {
        if (this.watched('runs')) this.statsDirty = true;
      }),
    );
    this.timer = setInterval(() => void this.tick(), this.tickMs);
    this.timer.unref();
  }

  get clientCount(): number {
    return this.connections.size;
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const off of this.offs) off();
    for (const c of this.connections) c.socket.close(1001, 'server shutting down');
    this.connections.clear();
  }

  attach(socket: LiveSocket): LiveConnection {
    const conn = new LiveConnection(socket, this.limits, this.stats);
    this.connections.add(conn);
    conn.sendNow([{ type: 'hello', seq: this.nextSeq(), payload: { epoch: this.epoch, tick_ms: this.tickMs } }]);
    return conn;
  }

  detach(conn: LiveConnection): void {
    conn.alive = false;
    for (const topic of [...conn.topics]) this.unsubscribe(conn, topic);
    this.connections.delete(conn);
  }

  /** Handles one client message (already parsed JSON). */
  async handle(conn: LiveConnection, raw: unknown): Promise<void> {
    const msg = raw as ClientMessage;
    if (!msg || typeof msg !== 'object' || typeof (msg as { type?: unknown }).type !== 'string') {
      return this.reject(conn, 'ERR_BAD_REQUEST', 'Messages are JSON objects with a "type".');
    }
    switch (msg.type) {
      case 'ping':
        conn.sendNow([{ type: 'pong', seq: this.nextSeq(), payload: {} }]);
        return;
      case 'subscribe':
        return this.subscribe(conn, msg.topic, msg.since, msg.ids);
      case 'unsubscribe':
        if (typeof msg.topic === 'string') this.unsubscribe(conn, msg.topic);
        return;
      case 'view':
        if (
          typeof msg.topic !== 'string' ||
          !msg.topic.startsWith('step:') ||
          !Array.isArray(msg.ids) ||
          !msg.ids.every((i) => Number.isSafeInteger(i))
        ) {
          return this.reject(conn, 'ERR_BAD_REQUEST', 'view takes a step:<id> topic you subscribed to and a list of job ids.');
        }
        {
          const added = conn.setView(msg.topic, msg.ids);
          if (added === null) return this.reject(conn, 'ERR_BAD_REQUEST', `Subscribe to ${msg.topic} before sending its view.`);
          await this.pushJobs(conn, msg.topic, added);
        }
        return;
      default:
        return this.reject(conn, 'ERR_BAD_REQUEST', `Unknown message type "${String((msg as { type: unknown }).type)}".`);
    }
  }

  private reject(conn: LiveConnection, code: string, message: string, topic?: string): void {
    const payload = topic === undefined ? { code, message } : { code, message, topic };
    conn.sendNow([{ type: 'error', seq: this.nextSeq(), payload }]);
  }

  /** Why a well-formed topic names nothing to watch (no such job, or not of the kind it names), or null. */
  private async missing(topic: string): Promise<string | null> {
    if (topic === 'runs') return null;
    const [kind, idText] = topic.split(':') as [string, string];
    const job = await this.o.engine.getJob(Number(idText));
    if (!job) return `No job ${idText}: nothing to watch at ${topic}.`;
    if (kind === 'run' && job.kind !== 'manager') return `Job ${idText} is a ${job.kind} job, not a run: ${topic} names no run.`;
    if (kind === 'step' && job.kind !== 'step') return `Job ${idText} is a ${job.kind} job, not a step: ${topic} names no step.`;
    return null;
  }

  private async subscribe(
    conn: LiveConnection,
    topic: unknown,
    since: { epoch: string; seq: number } | undefined,
    ids: unknown,
  ): Promise<void> {
    if (typeof topic !== 'string' || !TOPIC.test(topic)) {
      return this.reject(conn, 'ERR_BAD_REQUEST', `Unknown topic ${JSON.stringify(topic)}: use runs, run:<id>, step:<id> or logs:<id>.`);
    }
    if (!conn.topics.has(topic) && conn.topics.size >= this.limits.maxTopics) {
      return this.reject(conn, 'ERR_BAD_REQUEST', `At most ${this.limits.maxTopics} topics per connection.`);
    }
    if (ids !== undefined && (!topic.startsWith('step:') || !Array.isArray(ids) || !ids.every((i) => Number.isSafeInteger(i)))) {
      return this.reject(conn, 'ERR_BAD_REQUEST', 'ids go with a step:<id> topic, as a list of job ids.');
    }
    // A typo'd or deleted id is refused rather than silently watched forever.
    const missing = await this.missing(topic);
    if (missing !== null) return this.reject(conn, 'ERR_NOT_FOUND', missing, topic);
    conn.topics.add(topic);
    const added = Array.isArray(ids) ? (conn.setView(topic, ids as number[]) ?? []) : [];
    let set = this.subscribers.get(topic);
    if (!set) {
      set = new Set();
      this.subscribers.set(topic, set);
    }
    set.add(conn);
    if (!this.lingering.has(topic) && !this.recordedSince.has(topic)) this.recordedSince.set(topic, this.seq);
    this.lingering.delete(topic);

    let replayed = 0;
    if (since && since.epoch === this.epoch && Number.isSafeInteger(since.seq)) {
      const first = this.history.oldest()?.seq ?? this.seq + 1;
      const recorded = this.recordedSince.get(topic) ?? this.seq;
      if ((since.seq + 1 < first || since.seq < recorded) && since.seq < this.seq) {
        conn.replaceWithResync(topic, this.nextSeq(), 'missed messages are no longer kept');
      } else {
        for (const r of this.history) {
          if (r.topic === topic && r.seq > since.seq) {
            conn.enqueue(`${topic}|${r.key}`, r.seq, r.msg);
            replayed += 1;
          }
        }
      }
    } else if (since) {
      conn.replaceWithResync(topic, this.nextSeq(), 'the server restarted');
    } else {
      await this.pushSnapshot(conn, topic);
      await this.pushJobs(conn, topic, added);
    }
    conn.sendNow([{ type: 'subscribed', seq: this.nextSeq(), topic, payload: { replayed } }]);
  }

  /** The current state of a topic, queued for the next tick (a fresh subscriber needs no REST for it). */
  private async pushSnapshot(conn: LiveConnection, topic: string): Promise<void> {
    const engine = this.o.engine;
    if (topic === 'runs') {
      const s = await engine.stats();
      conn.enqueue('runs|stats', this.nextSeq(), { type: 'stats', seq: 0, topic, payload: { runs: wireCounts(s.runs) } });
      return;
    }
    const [kind, idText] = topic.split(':') as [string, string];
    const id = Number(idText);
    if (kind === 'run') {
      const run = await engine.runProgress(id);
      if (run)
        conn.enqueue(`${topic}|manager:${id}`, this.nextSeq(), {
          type: 'manager_progress',
          seq: 0,
          topic,
          payload: liveManagerProgress(run),
        });
      const steps = await engine.listJobs({ parentId: id, kind: 'step', limit: 1000 });
      for (const s of steps.data) {
        const p = await engine.stepProgress(s.id);
        if (p)
          conn.enqueue(`${topic}|step:${s.id}`, this.nextSeq(), { type: 'step_progress', seq: 0, topic, payload: liveStepProgress(p) });
      }
    } else if (kind === 'step') {
      const p = await engine.stepProgress(id);
      if (p) conn.enqueue(`${topic}|step:${id}`, this.nextSeq(), { type: 'step_progress', seq: 0, topic, payload: liveStepProgress(p) });
    }
  }

  /**
   * The current state of jobs that just came into a client's view: a change that happened between
   * the client's page read and its view arriving would otherwise be missed for that row.
   */
  private async pushJobs(conn: LiveConnection, topic: string, ids: number[]): Promise<void> {
    if (ids.length === 0 || !topic.startsWith('step:')) return;
    const stepId = Number(topic.slice('step:'.length));
    // The read's sequence number is taken before it: a change routed while the read ran has a higher
    // one and is kept (enqueue also keeps the later state of a job, by attempt and status).
    const seq = this.nextSeq();
    const page = await this.o.engine.listJobSummaries({ stepId, ids, limit: ids.length, headChars: 500 });
    for (const j of page.data) {
      conn.enqueue(`${topic}|job:${j.id}`, seq, {
        type: 'job_status_change',
        seq: 0,
        topic,
        payload: {
          job_id: j.id,
          parent_id: j.parentId,
          step_id: j.stepId,
          manager_id: j.managerId,
          kind: j.kind,
          type: j.type,
          name: j.name,
          status: j.status,
          attempt: j.attempt,
          started_at: j.startedAt,
          finished_at: j.finishedAt,
          error: j.heads.error?.head ?? null,
        },
      });
    }
  }

  private unsubscribe(conn: LiveConnection, topic: string): void {
    conn.forgetTopic(topic);
    const set = this.subscribers.get(topic);
    if (!set) return;
    set.delete(conn);
    if (set.size === 0) {
      this.subscribers.delete(topic);
      this.lingering.set(topic, this.now());
    }
  }

  private nextSeq(): number {
    this.seq += 1;
    return this.seq;
  }

  /** A topic is recorded while someone watches it, and for a grace period after (for reconnects). */
  private watched(topic: string): boolean {
    if (this.subscribers.has(topic)) return true;
    const left = this.lingering.get(topic);
    if (left === undefined) return false;
    if (this.now() - left > this.graceMs) {
      this.lingering.delete(topic);
      this.recordedSince.delete(topic);
      return false;
    }
    return true;
  }

  /** Records a message for replay and queues it for the topic's subscribers. */
  private route(topic: string, key: string, msg: ServerMessage, filter?: (c: LiveConnection) => boolean): void {
    if (!this.watched(topic)) return;
    const seq = this.nextSeq();
    const sequenced = { ...msg, seq } as ServerMessage;
    this.history.push({ seq, topic, key, msg: sequenced });
    const set = this.subscribers.get(topic);
    if (!set) return;
    // One key per topic: the same step's progress goes to its run's watchers and its list's watchers.
    const topicKey = `${topic}|${key}`;
    for (const conn of set) if (!filter || filter(conn)) conn.enqueue(topicKey, seq, sequenced);
  }

  private onJobChange(e: JobStatusChange): void {
    if (e.kind === 'worker') {
      if (e.stepId === null) return;
      const topic = `step:${e.stepId}`;
      if (!this.watched(topic)) return;
      this.route(topic, `job:${e.jobId}`, { type: 'job_status_change', seq: 0, topic, payload: liveJobChange(e) }, (c) =>
        c.wantsJob(topic, e.jobId),
      );
      return;
    }
    // Steps and runs: status changes go to the run's watchers (progress messages follow too).
    const topic = `run:${e.managerId}`;
    this.route(topic, `job:${e.jobId}`, { type: 'job_status_change', seq: 0, topic, payload: liveJobChange(e) });
  }

  private onStepProgress(p: StepProgress): void {
    const payload = liveStepProgress(p);
    for (const topic of [`run:${p.managerId}`, `step:${p.stepId}`]) {
      this.route(topic, `step:${p.stepId}`, { type: 'step_progress', seq: 0, topic, payload });
    }
  }

  private onManagerProgress(p: ManagerProgress): void {
    const payload = liveManagerProgress(p);
    for (const topic of ['runs', `run:${p.managerId}`]) {
      this.route(topic, `manager:${p.managerId}`, { type: 'manager_progress', seq: 0, topic, payload });
    }
  }

  private onLog(b: JobLogBatch): void {
    const lines = wireLogBatchLines(b);
    const ids = new Set([b.jobId, b.stepId, b.managerId].filter((x): x is number => x !== null));
    for (const id of ids) {
      const topic = `logs:${id}`;
      this.route(topic, `log:${id}`, { type: 'job_log', seq: 0, topic, payload: { topic_job_id: id, lines, dropped: 0 } });
    }
  }

  /** Once per tick: global stats if they moved (one read for all clients), then every flush. */
  async tick(): Promise<void> {
    for (const topic of this.lingering.keys()) this.watched(topic); // forgets topics past their grace
    if (this.statsDirty) {
      this.statsDirty = false;
      try {
        const s = await this.o.engine.stats();
        this.route('runs', 'stats', { type: 'stats', seq: 0, topic: 'runs', payload: { runs: wireCounts(s.runs) } });
      } catch {
        this.statsDirty = true;
      }
    }
    for (const conn of this.connections) {
      try {
        conn.flush();
      } catch {
        conn.alive = false;
      }
    }
  }
}

/** A fixed-size buffer of the newest items, oldest first when iterated. */
class Ring<T> implements Iterable<T> {
  private readonly items: Array<T | undefined>;
  private next = 0;
  private count = 0;

  constructor(private readonly size: number) {
    this.items = new Array<T | undefined>(size);
  }

  push(item: T): void {
    this.items[this.next] = item;
    this.next = (this.next + 1) % this.size;
    if (this.count < this.size) this.count += 1;
  }

  oldest(): T | undefined {
    if (this.count === 0) return undefined;
    return this.items[(this.next - this.count + this.size) % this.size];
  }

  *[Symbol.iterator](): Iterator<T> {
    for (let i = 0; i < this.count; i++) yield this.items[(this.next - this.count + i + this.size) % this.size] as T;
  }
}
