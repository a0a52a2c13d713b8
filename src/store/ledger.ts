import { CounterDeltas } from '../core/progress.js';
import { emptyEffects, type Effects, type JobChange } from './store.js';
import type { ChangedRow, StoreTx } from './tx.js';

function toChange(r: ChangedRow): JobChange {
  return {
    id: r.id,
    kind: r.kind,
    parentId: r.parentId,
    stepId: r.stepId,
    managerId: r.managerId,
    type: r.type,
    name: r.name,
    status: r.status,
    attempt: r.attempt,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
    error: r.error,
  };
}

/**
 * Books every status change of one transaction: moves the progress counters of the job's step and
 * manager (in the same transaction, rule 1), and collects the effects published after the commit.
 */
export class Ledger {
  private readonly effects: Effects = emptyEffects();
  private readonly touchedSteps = new Set<number>();
  private readonly touchedManagers = new Set<number>();

  constructor(readonly tx: StoreTx) {}

  get now(): number {
    return this.tx.now;
  }

  /** Worker jobs changed status: their step's and run's worker counters move. */
  async workersChanged(rows: ChangedRow[]): Promise<void> {
    if (rows.length === 0) return;
    const d = new CounterDeltas();
    for (const r of rows) {
      if (r.stepId === null) throw new Error(`worker job ${r.id} has no step`);
      d.move(r.stepId, r.prevStatus, r.status);
      d.move(r.managerId, r.prevStatus, r.status);
      d.move(0, r.prevStatus, r.status);
      this.touchedSteps.add(r.stepId);
      this.touchedManagers.add(r.managerId);
      this.effects.jobs.push(toChange(r));
    }
    await this.tx.addCounters(d, 'w');
  }

  /** New worker jobs under a step. */
  async workersInserted(stepId: number, managerId: number, n: number): Promise<void> {
    this.touchedSteps.add(stepId);
    this.touchedManagers.add(managerId);
    if (n === 0) return;
    const d = new CounterDeltas();
    d.move(stepId, null, 'pending', n);
    d.move(managerId, null, 'pending', n);
    d.move(0, null, 'pending', n);
    await this.tx.addCounters(d, 'w');
  }

  /** Steps changed status: their run's step counters move. */
  async stepsChanged(rows: ChangedRow[]): Promise<void> {
    if (rows.length === 0) return;
    const d = new CounterDeltas();
    for (const r of rows) {
      d.move(r.managerId, r.prevStatus, r.status);
      this.touchedSteps.add(r.id);
      this.touchedManagers.add(r.managerId);
      this.effects.jobs.push(toChange(r));
    }
    await this.tx.addCounters(d, 's');
  }

  /** Managers changed status: the global run counters move. */
  async managersChanged(rows: ChangedRow[]): Promise<void> {
    if (rows.length === 0) return;
    const d = new CounterDeltas();
    for (const r of rows) {
      d.move(0, r.prevStatus, r.status);
      this.touchedManagers.add(r.id);
      this.effects.jobs.push(toChange(r));
    }
    this.effects.statsChanged = true;
    await this.tx.addCounters(d, 'm');
  }

  /** Rows created in a status (a new run): published, counters already set by the caller. */
  created(rows: ChangedRow[]): void {
    for (const r of rows) {
      if (r.kind === 'step') this.touchedSteps.add(r.id);
      if (r.kind === 'manager') {
        this.touchedManagers.add(r.id);
        this.effects.statsChanged = true;
      }
      this.effects.jobs.push(toChange(r));
    }
  }

  touchManager(id: number): void {
    this.touchedManagers.add(id);
  }

  markStatsChanged(): void {
    this.effects.statsChanged = true;
  }

  /** Reads the snapshots of everything touched; call last, inside the transaction. */
  async finish(): Promise<Effects> {
    this.effects.steps = await this.tx.stepSnapshots([...this.touchedSteps]);
    this.effects.managers = await this.tx.managerSnapshots([...this.touchedManagers]);
    return this.effects;
  }
}
