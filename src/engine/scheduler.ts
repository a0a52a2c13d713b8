import type { Logger } from 'pino';
import type { Clock, Timers } from '../core/clock.js';
import { errorMessage } from '../core/errors.js';
import { nextCronTime } from '../definitions/index.js';
import type { Definition } from '../definitions/types.js';
import type { Store } from '../store/store.js';

export interface SchedulerOptions {
  store: Store;
  clock: Clock;
  timers: Timers;
  logger: Logger;
  definitions: () => Promise<Array<{ definition: Definition | null }>>;
  startRun: (definition: { id: string }) => Promise<number>;
  /** How often schedules are checked (default 5 s; cron has minute resolution). */
  tickMs?: number;
}

/**
 * Starts runs of stored definitions that have a `schedule`. The next fire time lives in the store and
 * moves forward with a guarded update, so with several processes each fire time starts one run.
 * After downtime, a missed schedule fires once (not once per missed slot).
 */
export class Scheduler {
  private timer: { cancel(): void } | null = null;
  private running = false;

  constructor(private readonly o: SchedulerOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
  }

  stop(): void {
    this.running = false;
    this.timer?.cancel();
  }

  private schedule(ms: number): void {
    this.timer = this.o.timers.after(ms, () => {
      void this.tick().finally(() => {
        if (this.running) this.schedule(this.o.tickMs ?? 5000);
      });
    });
  }

  /** One pass over the scheduled definitions; returns the runs it started. */
  async tick(): Promise<number[]> {
    const started: number[] = [];
    try {
      const now = this.o.clock.now();
      for (const { definition } of await this.o.definitions()) {
        if (!definition?.schedule || !definition.enabled) continue;
        const next = await this.o.store.getSchedule(definition.id);
        if (next === null) {
          await this.o.store.advanceSchedule({ definitionId: definition.id, expected: null, next: nextCronTime(definition.schedule, now) });
          continue;
        }
        if (now < next) continue;
        const won = await this.o.store.advanceSchedule({
          definitionId: definition.id,
          expected: next,
          next: nextCronTime(definition.schedule, now),
        });
        if (!won) continue;
        const id = await this.o.startRun({ id: definition.id });
        this.o.logger.info({ definition: definition.id, managerId: id }, 'scheduled run started');
        started.push(id);
      }
    } catch (err) {
      this.o.logger.error({ err: errorMessage(err) }, 'scheduler pass failed');
    }
    return started;
  }
}
