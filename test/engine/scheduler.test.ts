/**
 * Cron schedules: stored definitions with `schedule` start runs when due, once per fire time even
 * with several processes, and a missed slot fires once after downtime.
 */
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { Scheduler } from '../../src/engine/scheduler.js';
import { createStepq, type Stepq } from '../../src/engine/engine.js';
import { tempDir } from '../helpers/temp.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const SCHEDULED = ['id = "nightly"', 'name = "Nightly"', 'schedule = "*/5 * * * *"', '[step.s]', 'type = "synthetic"', 'count = 1'].join(
  '\n',
);

async function engineOn(path: string, clock: ManualClock): Promise<Stepq> {
  const e = await createStepq({ store: `sqlite:${path}`, clock, timers: clock, logger: pino({ level: 'silent' }) });
  cleanups.push(() => e.stop());
  return e;
}

function schedulerFor(e: Stepq, clock: ManualClock): Scheduler {
  return new Scheduler({
    store: e.store,
    clock,
    timers: clock,
    logger: pino({ level: 'silent' }),
    definitions: () => e.listDefinitions(),
    startRun: (d) => e.startRun({ definition: d }).then((r) => r.managerId),
  });
}

describe('scheduler', () => {
  it('starts a run at each fire time, once across two processes, and once after downtime', async () => {
    const dir = tempDir('stepq-cron-');
    cleanups.push(dir.cleanup);
    const path = join(dir.path, 'cron.db');
    // 2026-01-01T00:01:00Z: the next */5 slot is 00:05.
    const clock = new ManualClock(Date.UTC(2026, 0, 1, 0, 1));
    const a = await engineOn(path, clock);
    const b = await engineOn(path, clock);
    await a.saveDefinition({ source: SCHEDULED });
    const sa = schedulerFor(a, clock);
    const sb = schedulerFor(b, clock);

    expect(await sa.tick()).toEqual([]); // first sight: the next fire time is recorded
    expect(await a.store.getSchedule('nightly')).toBe(Date.UTC(2026, 0, 1, 0, 5));
    clock.advance(3 * 60_000);
    expect(await sa.tick()).toEqual([]);
    clock.advance(60_000); // 00:05
    const [first, second] = await Promise.all([sa.tick(), sb.tick()]);
    expect([...first, ...second]).toHaveLength(1);
    expect(await a.store.getSchedule('nightly')).toBe(Date.UTC(2026, 0, 1, 0, 10));

    // Down for an hour: one run when it comes back, not twelve.
    clock.advance(60 * 60_000);
    expect(await sb.tick()).toHaveLength(1);
    expect(await sa.tick()).toEqual([]);
    const runs = await a.listJobs({ parentId: null, limit: 10 });
    expect(runs.data.map((r) => r.definitionId)).toEqual(['nightly', 'nightly']);
  });

  it('leaves disabled definitions alone', async () => {
    const dir = tempDir('stepq-cron-');
    cleanups.push(dir.cleanup);
    const clock = new ManualClock(Date.UTC(2026, 0, 1, 0, 1));
    const e = await engineOn(join(dir.path, 'cron.db'), clock);
    await e.saveDefinition({ source: SCHEDULED.replace('schedule =', 'enabled = false\nschedule =') });
    const s = schedulerFor(e, clock);
    await s.tick();
    clock.advance(10 * 60_000);
    expect(await s.tick()).toEqual([]);
    expect((await e.listJobs({ parentId: null, limit: 10 })).data).toEqual([]);
  });
});
