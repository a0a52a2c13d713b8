import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { emptyEffects, type Effects, type JobChange } from '../../src/store/store.js';
import { adminClient, dropSchema, PG_SKIP_REASON, PG_URL, uniqueName } from '../helpers/postgres.js';
import { decodeEvents, encodeEffects, MAX_PAYLOAD_BYTES, notifyTargetOf, PgNotifyBridge } from '../../src/events/pg-notify.js';

function change(i: number, extra: Partial<JobChange> = {}): JobChange {
  return {
    id: 1000 + i,
    kind: 'worker',
    parentId: 10,
    stepId: 10,
    managerId: 9,
    type: 'synthetic',
    name: `gen #${i}`,
    status: 'completed',
    attempt: 1,
    startedAt: 1_700_000_000_000 + i,
    finishedAt: 1_700_000_000_100 + i,
    error: null,
    ...extra,
  };
}

const snapshot = (stepId: number): Effects['steps'][number] => ({
  stepId,
  managerId: 9,
  name: 's',
  status: 'running',
  counts: { pending: 1, running: 0, completed: 0, failed: 0, cancelled: 0, total: 1 },
  startedAt: 1,
  finishedAt: null,
});

describe('pg-notify wire format', () => {
  it('round-trips job changes, step and run ids and the stats flag', () => {
    const effects: Effects = {
      jobs: [change(1), change(2, { status: 'failed', error: 'boom', kind: 'step', parentId: 9, stepId: null })],
      steps: [snapshot(10), snapshot(11)],
      managers: [],
      statsChanged: true,
    };
    const payloads = encodeEffects('me', effects);
    const decoded = payloads.map((p) => decodeEvents(p)!);
    expect(decoded.every((d) => d.origin === 'me')).toBe(true);
    expect(decoded.flatMap((d) => d.jobs)).toEqual(effects.jobs);
    expect(decoded.flatMap((d) => d.stepIds)).toEqual([10, 11]);
    expect(decoded.some((d) => d.statsChanged)).toBe(true);
  });

  it('splits large batches into payloads below the NOTIFY limit, keeping order', () => {
    const jobs = Array.from({ length: 2000 }, (_, i) =>
      change(i, { name: `név ${'ü'.repeat(i % 300)}`, error: i % 7 ? null : 'e'.repeat(5000) }),
    );
    const payloads = encodeEffects('origin-1', { ...emptyEffects(), jobs, managers: [], steps: [snapshot(10)] });
    expect(payloads.length).toBeGreaterThan(10);
    for (const p of payloads) expect(Buffer.byteLength(p)).toBeLessThanOrEqual(MAX_PAYLOAD_BYTES);
    const back = payloads.flatMap((p) => decodeEvents(p)!.jobs);
    expect(back.map((j) => j.id)).toEqual(jobs.map((j) => j.id));
    expect(back[7]!.error!.length).toBeLessThan(400); // errors travel as previews
  });

  it('ignores payloads that are not its own format', () => {
    expect(decodeEvents('hello')).toBeNull();
    expect(decodeEvents('{"v":2}')).toBeNull();
  });
});

describe.skipIf(!PG_URL)(PG_URL ? 'pg-notify bridge (PostgreSQL)' : `pg-notify bridge (PostgreSQL) (skipped: ${PG_SKIP_REASON})`, () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setup(): Promise<{
    store: PostgresStore;
    bridge(origin: string): { bridge: PgNotifyBridge; got: Effects[]; wakes: number[] };
  }> {
    const schema = uniqueName('stepq_n');
    const store = new PostgresStore({ connectionString: PG_URL!, schema });
    await store.migrate();
    cleanups.push(async () => {
      await store.close();
      await dropSchema(PG_URL!, schema);
    });
    return {
      store,
      bridge(origin) {
        const got: Effects[] = [];
        const wakes: number[] = [];
        const bridge = new PgNotifyBridge({
          target: notifyTargetOf(store)!,
          origin,
          logger: pino({ level: 'silent' }),
          onWake: () => wakes.push(Date.now()),
          onEffects: (e) => got.push(e),
          readSnapshots: async (steps) => ({ steps: steps.map(snapshot), managers: [] }),
          flushMs: 5,
          reconnectMs: { min: 20, max: 200 },
        });
        cleanups.push(() => bridge.close());
        return { bridge, got, wakes };
      },
    };
  }

  async function until(cond: () => boolean, ms = 5000): Promise<void> {
    const end = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > end) throw new Error('timed out waiting');
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  it('carries effects and wake-ups to other processes, never back to the sender', async () => {
    const { bridge } = await setup();
    const a = bridge('A');
    const b = bridge('B');
    await Promise.all([a.bridge.ready, b.bridge.ready]);
    const jobs = Array.from({ length: 500 }, (_, i) => change(i));
    a.bridge.publish({ jobs, steps: [snapshot(10)], managers: [], statsChanged: true });
    a.bridge.wake();
    a.bridge.wake();
    await until(() => b.got.flatMap((e) => e.jobs).length === 500 && b.got.some((e) => e.steps.length > 0) && b.wakes.length > 0);
    expect(b.got.flatMap((e) => e.jobs).map((j) => j.id)).toEqual(jobs.map((j) => j.id));
    expect(b.got.some((e) => e.statsChanged)).toBe(true);
    await new Promise((r) => setTimeout(r, 100));
    expect(a.got).toEqual([]);
    expect(a.wakes).toEqual([]);
    expect(b.wakes.length).toBe(1); // two wake() calls in one window: one notification
  });

  it('reconnects after its connection is cut and keeps delivering', async () => {
    const { bridge } = await setup();
    const a = bridge('A');
    const b = bridge('B');
    await Promise.all([a.bridge.ready, b.bridge.ready]);
    const pid = b.bridge.listenerPid;
    expect(pid).not.toBeNull();
    const admin = await adminClient();
    try {
      await admin.query('SELECT pg_terminate_backend($1)', [pid]);
    } finally {
      await admin.end();
    }
    await until(() => b.bridge.listening && b.bridge.listenerPid !== pid);
    expect(b.wakes.length).toBeGreaterThan(0); // woken after the reconnect, in case it missed one
    a.bridge.publish({ ...emptyEffects(), jobs: [change(1)] });
    await until(() => b.got.some((e) => e.jobs.some((j) => j.id === 1001)));
  });
});
