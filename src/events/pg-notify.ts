/**
 * Events across processes through PostgreSQL LISTEN/NOTIFY, for stores shared by many processes.
 *
 * Two channels (per schema; see PostgresStore.notifyTarget):
 * - `stepq_wake`: "jobs became claimable" (a run started, jobs were enqueued, retried or rescued), so
 *   idle workers elsewhere claim at once instead of at their next poll. The payload is the sender's
 *   origin. Coalesced: at most one NOTIFY per `flushMs`, however many wake-ups.
 * - `stepq_events`: the effects a process committed, so that every process re-emits the others' on
 *   its own EventBus (its own are skipped by origin). Job status changes travel as compact arrays;
 *   steps and runs travel as ids only, and the receiver reads their current snapshots from the store
 *   (coalesced per `flushMs`). Snapshots sent by two processes could arrive in the opposite order of
 *   their commits and leave a receiver showing stale counts; a snapshot read after the notification
 *   is at least as new as the change it announces, so the last one a receiver publishes is the truth.
 *
 * NOTIFY payloads are limited to 8000 bytes: a batch is split into as many payloads as needed, each
 * decodable on its own. Notifications are sent after the commit, as their own statements (one per
 * flush, `pg_notify` over an array of payloads): a NOTIFY inside the mutation's transaction would
 * take PostgreSQL's notify queue lock at every commit and serialise all writers. If a process dies
 * between its commit and its flush, those events are lost; the state is not (it is in the tables),
 * and a receiver's next read shows it.
 *
 * The listening connection is dedicated (LISTEN holds a session). When it drops, the bridge
 * reconnects with bounded exponential backoff until closed, and wakes the pool (a wake-up may have
 * been missed meanwhile; polling covers the gap).
 */
import pg from 'pg';
import type { Logger } from 'pino';
import { errorMessage } from '../core/errors.js';
import { JOB_KINDS, JOB_STATUSES, type JobKind, type JobStatus } from '../core/job.js';
import type { NotifyTarget } from '../store/postgres/postgres-store.js';
import type { Effects, JobChange, ManagerSnapshot, StepSnapshot, Store } from '../store/store.js';

export type { NotifyTarget };

/** The notify target of a store that has one (PostgresStore.notifyTarget), else null. */
export function notifyTargetOf(store: Store): NotifyTarget | null {
  const s = store as Store & { notifyTarget?: () => NotifyTarget };
  return store.capabilities.multiProcess && typeof s.notifyTarget === 'function' ? s.notifyTarget() : null;
}

/** Largest payload we send: PostgreSQL refuses 8000 bytes and more. */
export const MAX_PAYLOAD_BYTES = 7900;
const MAX_NAME_CHARS = 200;
const MAX_ERROR_CHARS = 300;
const MAX_TYPE_CHARS = 100;

type JobTuple = [
  id: number,
  kind: number,
  parentId: number | null,
  stepId: number | null,
  managerId: number,
  type: string,
  name: string,
  status: number,
  attempt: number,
  startedAt: number | null,
  finishedAt: number | null,
  error: string | null,
];

/** One decoded `stepq_events` payload. */
export interface EventsMessage {
  /** The sending process. */
  origin: string;
  jobs: JobChange[];
  stepIds: number[];
  managerIds: number[];
  statsChanged: boolean;
}

interface WireMessage {
  v: 1;
  o: string;
  j?: JobTuple[];
  s?: number[];
  m?: number[];
  t?: 1;
}

function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}

function tupleOf(j: JobChange): JobTuple {
  return [
    j.id,
    JOB_KINDS.indexOf(j.kind),
    j.parentId,
    j.stepId,
    j.managerId,
    cut(j.type, MAX_TYPE_CHARS),
    cut(j.name, MAX_NAME_CHARS),
    JOB_STATUSES.indexOf(j.status),
    j.attempt,
    j.startedAt,
    j.finishedAt,
    j.error === null ? null : cut(j.error, MAX_ERROR_CHARS),
  ];
}

function changeOf(t: JobTuple): JobChange | null {
  const kind = JOB_KINDS[t[1]] as JobKind | undefined;
  const status = JOB_STATUSES[t[7]] as JobStatus | undefined;
  if (!kind || !status) return null;
  return {
    id: t[0],
    kind,
    parentId: t[2],
    stepId: t[3],
    managerId: t[4],
    type: t[5],
    name: t[6],
    status,
    attempt: t[8],
    startedAt: t[9],
    finishedAt: t[10],
    error: t[11],
  };
}

/**
 * Encodes effects as `stepq_events` payloads of at most `maxBytes` bytes each. Job changes keep their
 * order across payloads; step and run ids ride in the last one.
 */
export function encodeEffects(origin: string, effects: Effects, maxBytes = MAX_PAYLOAD_BYTES): string[] {
  const tail: WireMessage = { v: 1, o: origin };
  if (effects.steps.length) tail.s = [...new Set(effects.steps.map((s) => s.stepId))];
  if (effects.managers.length) tail.m = [...new Set(effects.managers.map((m) => m.managerId))];
  if (effects.statsChanged) tail.t = 1;
  const head = JSON.stringify({ v: 1, o: origin }).slice(0, -1); // '{"v":1,"o":"…"'
  const out: string[] = [];
  let items: string[] = [];
  let size = Buffer.byteLength(head) + 8; // ',"j":[' + ']}'
  const flush = (): void => {
    if (items.length) out.push(`${head},"j":[${items.join(',')}]}`);
    items = [];
    size = Buffer.byteLength(head) + 8;
  };
  for (const j of effects.jobs) {
    const item = JSON.stringify(tupleOf(j));
    const bytes = Buffer.byteLength(item) + 1;
    if (size + bytes > maxBytes) flush();
    items.push(item);
    size += bytes;
  }
  flush();
  if (tail.s || tail.m || tail.t) {
    // Ids are small; a batch touching thousands of steps is split too.
    const ids = [...(tail.s ?? []).map((id) => ['s', id] as const), ...(tail.m ?? []).map((id) => ['m', id] as const)];
    let msg: WireMessage = { v: 1, o: origin, ...(tail.t ? { t: 1 as const } : {}) };
    for (const [k, id] of ids) {
      const next: WireMessage = { ...msg, [k]: [...(msg[k] ?? []), id] };
      if (Buffer.byteLength(JSON.stringify(next)) > maxBytes) {
        out.push(JSON.stringify(msg));
        msg = { v: 1, o: origin, [k]: [id] };
      } else msg = next;
    }
    out.push(JSON.stringify(msg));
  }
  return out;
}

/** Decodes a `stepq_events` payload; null when it is not one (another program on the channel). */
export function decodeEvents(payload: string): EventsMessage | null {
  let w: WireMessage;
  try {
    w = JSON.parse(payload) as WireMessage;
  } catch {
    return null;
  }
  if (!w || w.v !== 1 || typeof w.o !== 'string') return null;
  return {
    origin: w.o,
    jobs: (w.j ?? []).map(changeOf).filter((c): c is JobChange => c !== null),
    stepIds: w.s ?? [],
    managerIds: w.m ?? [],
    statsChanged: w.t === 1,
  };
}

export interface PgNotifyBridgeOptions {
  target: NotifyTarget;
  /** This process's id: its own notifications are ignored when they come back. */
  origin: string;
  logger: Logger;
  /** Another process made jobs claimable. */
  onWake: () => void;
  /** Another process's effects (snapshots read from the store), to publish on the local bus. */
  onEffects: (effects: Effects) => void;
  /** Reads current snapshots for steps and runs another process touched. */
  readSnapshots: (stepIds: number[], managerIds: number[]) => Promise<{ steps: StepSnapshot[]; managers: ManagerSnapshot[] }>;
  /** False when nobody here listens to progress: the snapshot reads are skipped. */
  wantsSnapshots?: () => boolean;
  /** Coalescing window for sends and snapshot reads (default 20 ms). */
  flushMs?: number;
  /** Reconnect backoff bounds (default 100 ms … 5 s). */
  reconnectMs?: { min: number; max: number };
}

/** Payloads sent per statement; a flush with more sends several statements. */
const PAYLOADS_PER_STATEMENT = 200;

export class PgNotifyBridge {
  /** Resolves once the first LISTEN is in place (or the first attempt failed; reconnects go on). */
  readonly ready: Promise<void>;
  private resolveReady!: () => void;
  private client: pg.Client | null = null;
  private closed = false;
  private failures = 0;
  private reconnectTimer: NodeJS.Timeout | null = null;

  private outbox: Effects[] = [];
  private wakePending = false;
  private sendTimer: NodeJS.Timeout | null = null;
  private sending: Promise<void> | null = null;

  private readonly snapSteps = new Set<number>();
  private readonly snapManagers = new Set<number>();
  private snapTimer: NodeJS.Timeout | null = null;
  private reading: Promise<void> | null = null;

  /** How every payload this process sends begins (see encodeEffects). */
  private readonly ownHead: string;

  constructor(private readonly o: PgNotifyBridgeOptions) {
    this.ownHead = JSON.stringify({ v: 1, o: o.origin }).slice(0, -1);
    this.ready = new Promise((resolve) => (this.resolveReady = resolve));
    void this.connect();
  }

  private get flushMs(): number {
    return this.o.flushMs ?? 20;
  }

  // ---- listening -----------------------------------------------------------------------------

  private async connect(): Promise<void> {
    if (this.closed) return;
    const client = new pg.Client(this.o.target.clientConfig);
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client, null));
    client.on('notification', (msg) => this.receive(msg.channel, msg.payload ?? ''));
    try {
      await client.connect();
      const { wake, events } = this.o.target.channels;
      await client.query(`LISTEN ${pg.escapeIdentifier(wake)}; LISTEN ${pg.escapeIdentifier(events)}`);
      if (this.closed) {
        await client.end().catch(() => undefined);
        return;
      }
      this.client = client;
      if (this.failures > 0) {
        this.o.logger.info({ attempts: this.failures }, 'event channel reconnected');
        this.o.onWake(); // a wake-up may have been missed while disconnected
      }
      this.failures = 0;
    } catch (err) {
      this.o.logger.warn({ err: errorMessage(err) }, 'event channel: cannot listen; retrying');
      client.removeAllListeners('end');
      client.on('error', () => undefined);
      await client.end().catch(() => undefined);
      this.scheduleReconnect();
    } finally {
      this.resolveReady();
    }
  }

  private lost(client: pg.Client, err: Error | null): void {
    if (this.client !== client) return; // an old connection, or one still connecting (connect handles it)
    this.client = null;
    client.removeAllListeners('end');
    client.on('error', () => undefined);
    if (this.closed) return;
    this.o.logger.warn({ err: err ? errorMessage(err) : 'connection ended' }, 'event channel lost; reconnecting');
    void client.end().catch(() => undefined);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer) return;
    const { min, max } = this.o.reconnectMs ?? { min: 100, max: 5000 };
    const delay = Math.min(max, min * 2 ** this.failures);
    this.failures += 1;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      void this.connect();
    }, delay);
    this.reconnectTimer.unref?.();
  }

  /** True while the LISTEN connection is up (for tests and health checks). */
  get listening(): boolean {
    return this.client !== null;
  }

  /** The backend pid of the listening connection (tests use it to cut the connection). */
  get listenerPid(): number | null {
    return (this.client as (pg.Client & { processID?: number }) | null)?.processID ?? null;
  }

  private receive(channel: string, payload: string): void {
    const { wake, events } = this.o.target.channels;
    try {
      if (channel === wake) {
        if (payload !== this.o.origin) this.o.onWake();
        return;
      }
      if (channel !== events) return;
      // Our own notifications come back too; skip them without parsing (one process sees all).
      if (payload.startsWith(this.ownHead) && (payload[this.ownHead.length] === ',' || payload[this.ownHead.length] === '}')) return;
      const msg = decodeEvents(payload);
      if (!msg || msg.origin === this.o.origin) return;
      if (msg.jobs.length || msg.statsChanged)
        this.o.onEffects({ jobs: msg.jobs, steps: [], managers: [], statsChanged: msg.statsChanged });
      for (const id of msg.stepIds) this.snapSteps.add(id);
      for (const id of msg.managerIds) this.snapManagers.add(id);
      if (this.snapSteps.size || this.snapManagers.size) this.scheduleSnapshots();
    } catch (err) {
      this.o.logger.error({ err: errorMessage(err), channel }, 'event channel: a notification could not be handled');
    }
  }

  private scheduleSnapshots(): void {
    if (this.snapTimer || this.reading) return;
    this.snapTimer = setTimeout(() => {
      this.snapTimer = null;
      this.reading = this.readSnapshots().finally(() => {
        this.reading = null;
        if (this.snapSteps.size || this.snapManagers.size) this.scheduleSnapshots();
      });
    }, this.flushMs);
    this.snapTimer.unref?.();
  }

  private async readSnapshots(): Promise<void> {
    const steps = [...this.snapSteps];
    const managers = [...this.snapManagers];
    this.snapSteps.clear();
    this.snapManagers.clear();
    if (this.closed || (this.o.wantsSnapshots && !this.o.wantsSnapshots())) return;
    try {
      const snaps = await this.o.readSnapshots(steps, managers);
      this.o.onEffects({ jobs: [], steps: snaps.steps, managers: snaps.managers, statsChanged: false });
    } catch (err) {
      if (!this.closed) this.o.logger.warn({ err: errorMessage(err) }, 'event channel: reading snapshots failed');
    }
  }

  // ---- sending -------------------------------------------------------------------------------

  /** Sends this process's committed effects to the others (batched). */
  publish(effects: Effects): void {
    if (this.closed) return;
    if (effects.jobs.length === 0 && effects.steps.length === 0 && effects.managers.length === 0 && !effects.statsChanged) return;
    this.outbox.push(effects);
    this.scheduleSend();
  }

  /** Tells idle workers elsewhere that jobs became claimable (coalesced). */
  wake(): void {
    if (this.closed) return;
    this.wakePending = true;
    this.scheduleSend();
  }

  private scheduleSend(): void {
    if (this.sendTimer || this.sending) return;
    this.sendTimer = setTimeout(() => {
      this.sendTimer = null;
      this.sending = this.send().finally(() => {
        this.sending = null;
        if (this.outbox.length || this.wakePending) this.scheduleSend();
      });
    }, this.flushMs);
    this.sendTimer.unref?.();
  }

  private async send(): Promise<void> {
    const batch = this.outbox;
    this.outbox = [];
    const wake = this.wakePending;
    this.wakePending = false;
    const payloads: string[] = [];
    for (const e of batch) payloads.push(...encodeEffects(this.o.origin, e));
    const { pool, channels } = this.o.target;
    try {
      // Events first: a woken worker's claim then sees what they announce.
      for (let i = 0; i < payloads.length; i += PAYLOADS_PER_STATEMENT) {
        await pool.query('SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p', [
          channels.events,
          payloads.slice(i, i + PAYLOADS_PER_STATEMENT),
        ]);
      }
      if (wake) await pool.query('SELECT pg_notify($1, $2)', [channels.wake, this.o.origin]);
    } catch (err) {
      // Events are state snapshots: a lost batch is corrected by the next one (or a page reload).
      if (!this.closed) this.o.logger.warn({ err: errorMessage(err), payloads: payloads.length }, 'event channel: sending failed; dropped');
    }
  }

  /** Sends what is queued, stops listening and reconnecting. Call before the store's pool closes. */
  async close(): Promise<void> {
    if (this.sendTimer) {
      clearTimeout(this.sendTimer);
      this.sendTimer = null;
    }
    while (this.sending) await this.sending;
    if (this.outbox.length || this.wakePending) await this.send();
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.snapTimer) clearTimeout(this.snapTimer);
    await this.reading;
    const client = this.client;
    this.client = null;
    if (client) {
      client.removeAllListeners('end');
      client.on('error', () => undefined);
      await client.end().catch(() => undefined);
    }
  }
}
