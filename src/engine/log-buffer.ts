import type { Clock } from '../core/clock.js';
import type { JobLogBatch } from '../core/events.js';
import type { LogLevel, LogLine, NewLogLine } from '../core/job.js';
import type { Store } from '../store/store.js';

export interface LogTarget {
  jobId: number;
  stepId: number | null;
  managerId: number;
}

export interface LogBufferOptions {
  store: Store;
  clock: Clock;
  publish: (batch: JobLogBatch) => void;
  /** Lines kept per job attempt; past it, lines are counted and one summary line says how many were dropped. */
  maxLinesPerJob: number;
  /** Longest line kept; longer ones are cut with a note of their length. */
  maxLineChars: number;
}

/**
 * Collects job log lines and writes them in batches (one transaction for many lines). The cap is per
 * job, so one noisy job can never starve the logs of the other jobs or steps of its run.
 */
export class LogBuffer {
  private pending: NewLogLine[] = [];
  private readonly perJob = new Map<number, { kept: number; dropped: number; target: LogTarget }>();
  private flushing: Promise<void> | null = null;

  constructor(private readonly opts: LogBufferOptions) {}

  get size(): number {
    return this.pending.length;
  }

  add(target: LogTarget, level: LogLevel, message: string): void {
    let entry = this.perJob.get(target.jobId);
    if (!entry) {
      entry = { kept: 0, dropped: 0, target };
      this.perJob.set(target.jobId, entry);
    }
    if (entry.kept >= this.opts.maxLinesPerJob) {
      entry.dropped += 1;
      return;
    }
    entry.kept += 1;
    const text = String(message);
    const cut = text.length > this.opts.maxLineChars ? `${text.slice(0, this.opts.maxLineChars)}… (line cut: ${text.length} chars)` : text;
    this.pending.push({ ...target, level, message: cut, at: this.opts.clock.now() });
  }

  /** The job's attempt ended: note dropped lines, forget its count. */
  endJob(jobId: number): void {
    const entry = this.perJob.get(jobId);
    if (!entry) return;
    this.perJob.delete(jobId);
    if (entry.dropped > 0) {
      this.pending.push({
        ...entry.target,
        level: 'warn',
        message: `${entry.dropped} more log lines of this job were dropped (the cap is ${this.opts.maxLinesPerJob} lines per job attempt).`,
        at: this.opts.clock.now(),
      });
    }
  }

  /** Writes what is buffered; concurrent calls share one write. */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (this.pending.length === 0) return;
    const lines = this.pending;
    this.pending = [];
    this.flushing = (async () => {
      let written: LogLine[];
      try {
        written = await this.opts.store.appendLogs(lines);
      } catch (err) {
        this.pending = lines.concat(this.pending);
        throw err;
      }
      const byJob = new Map<number, JobLogBatch>();
      for (const l of written) {
        let b = byJob.get(l.jobId);
        if (!b) {
          b = { jobId: l.jobId, stepId: l.stepId, managerId: l.managerId, lines: [] };
          byJob.set(l.jobId, b);
        }
        b.lines.push({ id: l.id, jobId: l.jobId, level: l.level, message: l.message, at: l.at });
      }
      for (const b of byJob.values()) this.opts.publish(b);
    })();
    try {
      await this.flushing;
    } finally {
      this.flushing = null;
    }
  }
}
