import { StepqError } from '../core/errors.js';
import type { JsonValue } from '../core/job.js';
import type { DependencyAccess, RunInfo, StepFailure, StepResult } from '../core/step-type.js';
import { managerPayloadOf, stepPayloadOf, type Store } from '../store/store.js';
import type { StepPolicy } from '../core/lifecycle.js';

/** What running any job of a step needs, read once per step and shared by all its jobs. */
export interface StepInfo {
  stepId: number;
  managerId: number;
  name: string;
  type: string;
  config: JsonValue;
  policy: StepPolicy;
  run: RunInfo;
  /** Dependencies by name: their step ids and types. */
  dependencies: Map<string, { stepId: number; type: string }>;
}

const MAX_CACHED = 2000;

/** Caches step info by id (immutable once a run starts); concurrent misses share one load. */
export class StepCache {
  private readonly entries = new Map<number, Promise<StepInfo>>();

  constructor(private readonly store: Store) {}

  get(stepId: number): Promise<StepInfo> {
    let p = this.entries.get(stepId);
    if (!p) {
      p = this.load(stepId);
      p.catch(() => this.entries.delete(stepId));
      if (this.entries.size >= MAX_CACHED) {
        const oldest = this.entries.keys().next().value;
        if (oldest !== undefined) this.entries.delete(oldest);
      }
      this.entries.set(stepId, p);
    }
    return p;
  }

  forget(stepId: number): void {
    this.entries.delete(stepId);
  }

  private async load(stepId: number): Promise<StepInfo> {
    const step = await this.store.getJob(stepId);
    if (!step || step.kind !== 'step') throw new StepqError('ERR_JOB_NOT_FOUND', `Step ${stepId} does not exist.`);
    const manager = await this.store.getJob(step.managerId);
    if (!manager) throw new StepqError('ERR_JOB_NOT_FOUND', `Run ${step.managerId} does not exist.`);
    const payload = stepPayloadOf(step);
    const mp = managerPayloadOf(manager);
    const siblings = await this.store.listJobs({ parentId: manager.id, kind: 'step', limit: 1000 });
    const byName = new Map(siblings.data.map((s) => [s.name, s]));
    const dependencies = new Map<string, { stepId: number; type: string }>();
    for (const name of payload.dependsOn) {
      const dep = byName.get(name);
      if (dep) dependencies.set(name, { stepId: dep.id, type: dep.type });
    }
    return {
      stepId,
      managerId: step.managerId,
      name: step.name,
      type: payload.type,
      config: payload.config,
      policy: payload.policy,
      run: {
        managerId: manager.id,
        stepId,
        stepName: step.name,
        definitionId: mp.definitionId,
        params: mp.params,
        createdAt: manager.createdAt,
      },
      dependencies,
    };
  }
}

/** Reads the results of the steps a step depends on, page by page. */
export function dependencyAccess(store: Store, info: StepInfo): DependencyAccess {
  const depId = (name: string): number => {
    const dep = info.dependencies.get(name);
    if (!dep) {
      throw new StepqError(
        'ERR_BAD_REQUEST',
        `Step "${info.name}" does not depend on "${name}" (it depends on: ${[...info.dependencies.keys()].join(', ') || 'nothing'}).`,
      );
    }
    return dep.stepId;
  };
  async function* pages(stepId: number, status: 'completed' | 'failed') {
    let cursor: string | undefined;
    do {
      const page = await store.listJobs({ stepId, status: [status], limit: 500, ...(cursor ? { cursor } : {}) });
      yield* page.data;
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
  }
  return {
    names: [...info.dependencies.keys()],
    stepType: (name) => info.dependencies.get(name)?.type,
    async *results(name): AsyncIterable<StepResult> {
      for await (const j of pages(depId(name), 'completed')) {
        yield { jobId: j.id, name: j.name, payload: j.payload, result: j.result };
      }
    },
    async *failures(name): AsyncIterable<StepFailure> {
      for await (const j of pages(depId(name), 'failed')) {
        yield { jobId: j.id, name: j.name, payload: j.payload, error: j.error ?? '' };
      }
    },
    async counts(name) {
      const c = await store.getProgress(depId(name));
      return { completed: c?.completed ?? 0, failed: c?.failed ?? 0, cancelled: c?.cancelled ?? 0, total: c?.total ?? 0 };
    },
  };
}
