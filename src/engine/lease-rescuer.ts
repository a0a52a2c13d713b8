import type { Timers } from '../core/clock.js';
import { errorMessage } from '../core/errors.js';
import type { Logger } from 'pino';
import type { Effects, Store } from '../store/store.js';

export interface LeaseRescuerOptions {
  store: Store;
  timers: Timers;
  logger: Logger;
  /** How often expired leases are looked for. */
  intervalMs: number;
  publish: (effects: Effects) => void;
  /** Reports how many jobs one pass reclaimed. */
  onRescued?: (count: number) => void;
  /** Rescued jobs are pending again: wake the pool. */
  wake: () => void;
}

const RESCUE_BATCH = 1000;

/**
 * Reclaims jobs whose worker stopped heartbeating (retry or fail, by their attempts), and runs the
 * store's sweep: steps whose jobs all ended but were not settled, runs past their deadline.
 * Every process may run one; the store's guarded statements make concurrent rescuers safe.
 */
export class LeaseRescuer {
  private timer: { cancel(): void } | null = null;
  private running = false;
  private current: Promise<void> | null = null;

  constructor(private readonly o: LeaseRescuerOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.timer?.cancel();
    await this.current;
  }

  /** One pass, now. */
  async tick(): Promise<{ rescued: number }> {
    let rescued = 0;
    try {
      for (;;) {
        const r = await this.o.store.rescueExpiredLeases({ limit: RESCUE_BATCH });
        this.o.publish(r.effects);
        rescued += r.affected;
        if (r.affected < RESCUE_BATCH) break;
      }
      if (rescued > 0) {
        this.o.onRescued?.(rescued);
        this.o.logger.warn({ rescued }, 'reclaimed jobs whose lease expired');
        this.o.wake();
      }
      this.o.publish(await this.o.store.sweep());
    } catch (err) {
      this.o.logger.error({ err: errorMessage(err) }, 'lease rescue failed');
    }
    return { rescued };
  }

  private schedule(): void {
    this.timer = this.o.timers.after(this.o.intervalMs, () => {
      this.current = this.tick().then(() => undefined);
      void this.current.finally(() => {
        this.current = null;
        if (this.running) this.schedule();
      });
    });
  }
}
