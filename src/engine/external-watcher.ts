/**
 * For stores shared by processes without an event channel (a SQLite file used by `stepq serve` and a
 * `stepq run` next to it): polls the running runs' counters and publishes their progress when it
 * moved, so watchers see work done by other processes. Progress only (O(runs) reads per tick);
 * PostgreSQL carries every event through LISTEN/NOTIFY instead.
 */
import type { Logger } from 'pino';
import type { Timers } from '../core/clock.js';
import { errorMessage } from '../core/errors.js';
import type { Counts } from '../core/progress.js';
import { emptyEffects, type Effects, type Store } from '../store/store.js';

export interface ExternalWatcherOptions {
  store: Store;
  timers: Timers;
  logger: Logger;
  publish: (effects: Effects) => void;
  intervalMs?: number;
}

const fingerprint = (status: string, c: Counts): string => `${status}:${c.pending}:${c.running}:${c.completed}:${c.failed}:${c.cancelled}`;

export class ExternalWatcher {
  private timer: { cancel(): void } | null = null;
  private running = false;
  /** Last published state per run, and per step of that run (dropped once the run is done). */
  private readonly seen = new Map<number, { run: string; steps: Map<number, string> }>();
  private watched = new Set<number>();

  constructor(private readonly o: ExternalWatcherOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule();
  }

  stop(): void {
    this.running = false;
    this.timer?.cancel();
  }

  private schedule(): void {
    this.timer = this.o.timers.after(this.o.intervalMs ?? 1000, () => {
      void this.tick().finally(() => {
        if (this.running) this.schedule();
      });
    });
  }

  /**
   * One poll over the runs running now, the newest runs (one may have started and ended between two
   * polls), and those watched last time (to publish how they ended).
   */
  async tick(): Promise<void> {
    try {
      const running = await this.o.store.listJobs({ parentId: null, status: ['running'], limit: 200, order: 'desc' });
      const newest = await this.o.store.listJobs({ parentId: null, limit: 20, order: 'desc' });
      const ids = new Set([...running.data, ...newest.data].map((j) => j.id));
      const effects = emptyEffects();
      if (ids.size !== this.watched.size || [...ids].some((id) => !this.watched.has(id))) effects.statsChanged = true;
      for (const id of new Set([...ids, ...this.watched])) {
        const m = await this.o.store.getManagerSnapshot(id);
        if (!m) continue;
        const fp = fingerprint(m.status, m.counts) + fingerprint('', m.steps);
        let seen = this.seen.get(id);
        if (seen?.run === fp) continue;
        if (!seen) {
          seen = { run: fp, steps: new Map() };
          this.seen.set(id, seen);
        }
        seen.run = fp;
        effects.managers.push(m);
        const steps = await this.o.store.listJobs({ parentId: id, kind: 'step', limit: 1000 });
        for (const s of steps.data) {
          const snap = await this.o.store.getStepSnapshot(s.id);
          if (!snap) continue;
          const sfp = fingerprint(snap.status, snap.counts);
          if (seen.steps.get(s.id) === sfp) continue;
          seen.steps.set(s.id, sfp);
          effects.steps.push(snap);
        }
      }
      for (const id of this.watched) {
        if (!ids.has(id)) this.seen.delete(id);
      }
      this.watched = ids;
      if (effects.managers.length || effects.steps.length || effects.statsChanged) this.o.publish(effects);
    } catch (err) {
      this.o.logger.warn({ err: errorMessage(err) }, 'polling runs of other processes failed');
    }
  }
}
