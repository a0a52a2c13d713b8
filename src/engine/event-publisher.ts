import type { Clock } from '../core/clock.js';
import type { ManagerProgress, StepProgress } from '../core/events.js';
import { isTerminal } from '../core/job.js';
import { RateTracker } from '../core/progress.js';
import type { EventBus } from '../events/bus.js';
import type { Effects, ManagerSnapshot, StepSnapshot } from '../store/store.js';

/** Longest error text carried by a status event; the full text is one GET away. */
export const ERROR_PREVIEW_CHARS = 500;

export function previewText(text: string | null, max = ERROR_PREVIEW_CHARS): string | null {
  if (text === null || text.length <= max) return text;
  return `${text.slice(0, max)}… (${text.length} chars)`;
}

/**
 * Turns the effects of committed transactions into events: one `job_status_change` per changed job,
 * and the latest snapshot of each touched step and run, with rate and ETA.
 */
export class EventPublisher {
  private readonly rates = new RateTracker();

  constructor(
    private readonly bus: EventBus,
    private readonly clock: Clock,
  ) {}

  publish(effects: Effects): void {
    if (this.bus.has('job_status_change')) {
      for (const j of effects.jobs) {
        this.bus.emit('job_status_change', {
          jobId: j.id,
          parentId: j.parentId,
          stepId: j.stepId,
          managerId: j.managerId,
          kind: j.kind,
          type: j.type,
          name: j.name,
          status: j.status,
          attempt: j.attempt,
          startedAt: j.startedAt,
          finishedAt: j.finishedAt,
          error: previewText(j.error),
        });
      }
    }
    for (const s of effects.steps) this.bus.emit('step_progress', this.stepProgress(s));
    for (const m of effects.managers) this.bus.emit('manager_progress', this.managerProgress(m));
    if (effects.statsChanged) this.bus.emit('stats_change', { at: this.clock.now() });
  }

  stepProgress(s: StepSnapshot): StepProgress {
    const at = this.clock.now();
    const { ratePerSec, etaMs } = this.rates.observe(s.stepId, s.counts, at);
    if (isTerminal(s.status)) this.rates.forget(s.stepId);
    return { ...s, ratePerSec, etaMs: isTerminal(s.status) ? 0 : etaMs, at };
  }

  managerProgress(m: ManagerSnapshot): ManagerProgress {
    const at = this.clock.now();
    const { ratePerSec, etaMs } = this.rates.observe(m.managerId, m.counts, at);
    if (isTerminal(m.status)) this.rates.forget(m.managerId);
    return { ...m, ratePerSec, etaMs: isTerminal(m.status) ? 0 : etaMs, at };
  }
}
