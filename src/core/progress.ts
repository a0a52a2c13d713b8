import type { JobStatus } from './job.js';

/** Counts of jobs by status. `total` is their sum, kept explicit because every reader wants it. */
export interface Counts {
  pending: number;
  running: number;
  completed: number;
  failed: number;
  cancelled: number;
  total: number;
}

export function emptyCounts(): Counts {
  return { pending: 0, running: 0, completed: 0, failed: 0, cancelled: 0, total: 0 };
}

export function countsFrom(parts: Partial<Record<JobStatus, number>>): Counts {
  const c = emptyCounts();
  for (const status of ['pending', 'running', 'completed', 'failed', 'cancelled'] as const) {
    c[status] = parts[status] ?? 0;
  }
  c.total = c.pending + c.running + c.completed + c.failed + c.cancelled;
  return c;
}

export function addCounts(a: Counts, b: Counts): Counts {
  return countsFrom({
    pending: a.pending + b.pending,
    running: a.running + b.running,
    completed: a.completed + b.completed,
    failed: a.failed + b.failed,
    cancelled: a.cancelled + b.cancelled,
  });
}

export function activeCount(c: Counts): number {
  return c.pending + c.running;
}

export function doneCount(c: Counts): number {
  return c.completed + c.failed + c.cancelled;
}

/**
 * Accumulates per-owner status deltas inside one transaction so that a batch of N transitions costs
 * one counter write per (owner, status), not N (correctness rule 6: bulk is the normal path).
 */
export class CounterDeltas {
  readonly byOwner = new Map<number, Map<JobStatus, number>>();

  move(owner: number, from: JobStatus | null, to: JobStatus | null, n = 1): void {
    if (from === to || n === 0) return;
    let m = this.byOwner.get(owner);
    if (!m) {
      m = new Map();
      this.byOwner.set(owner, m);
    }
    if (from) m.set(from, (m.get(from) ?? 0) - n);
    if (to) m.set(to, (m.get(to) ?? 0) + n);
  }

  get size(): number {
    return this.byOwner.size;
  }

  /** Non-zero deltas, one entry per owner. */
  *entries(): Iterable<[number, Record<JobStatus, number>]> {
    for (const [owner, m] of this.byOwner) {
      const d = { pending: 0, running: 0, completed: 0, failed: 0, cancelled: 0 };
      let any = false;
      for (const [status, n] of m) {
        if (n !== 0) {
          d[status] = n;
          any = true;
        }
      }
      if (any) yield [owner, d];
    }
  }

  clear(): void {
    this.byOwner.clear();
  }
}

export interface RateEta {
  /** Jobs ending per second over the recent window (0 when nothing ended yet). */
  ratePerSec: number;
  /** Estimated milliseconds until the active jobs end, or null when unknown. */
  etaMs: number | null;
}

/**
 * Rate and ETA from a short history of (time, done) samples. A sliding window follows speed changes
 * (a slow first minute must not make the ETA wrong for the rest of the run).
 */
export class RateTracker {
  private readonly samples = new Map<number, Array<{ at: number; done: number }>>();

  constructor(private readonly windowMs = 10_000) {}

  observe(id: number, counts: Counts, at: number): RateEta {
    const done = doneCount(counts);
    let list = this.samples.get(id);
    if (!list) {
      list = [];
      this.samples.set(id, list);
    }
    const last = list[list.length - 1];
    if (!last || last.at !== at) list.push({ at, done });
    else last.done = done;
    while (list.length > 2 && list[0]!.at < at - this.windowMs) list.shift();
    const first = list[0]!;
    const span = at - first.at;
    const ratePerSec = span > 0 ? Math.max(0, ((done - first.done) * 1000) / span) : 0;
    const active = activeCount(counts);
    const etaMs = active === 0 ? 0 : ratePerSec > 0 ? Math.round((active / ratePerSec) * 1000) : null;
    return { ratePerSec: Math.round(ratePerSec * 10) / 10, etaMs };
  }

  forget(id: number): void {
    this.samples.delete(id);
  }
}
