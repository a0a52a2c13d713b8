/**
 * Fan-out shared by the step types that repeat one action over a list (http, shell): over `items`
 * written in the definition, over the results of a step this step depends on (`from_step`), or,
 * with neither, a single job. Each worker job's payload is `{ item, index }`; templates are rendered
 * from it when the job runs.
 */
import { z } from 'zod';
import type { JsonValue } from '../core/job.js';
import type { PlanContext, WorkerSpec } from '../core/step-type.js';
import { throwIfAborted } from './abortable-sleep.js';
import type { TemplateScope } from './template.js';

/** Config keys for the item source; spread into a step type's `z.strictObject`. */
export const itemSourceShape = {
  /** One worker job per element. */
  items: z.array(z.json()).optional(),
  /** One worker job per completed result of this step (which must be in `depends_on`). */
  from_step: z.string().min(1).optional(),
};

export interface ItemSourceConfig {
  items?: JsonValue[] | undefined;
  from_step?: string | undefined;
}

/** Refinement for a config object: `items` and `from_step` exclude each other. */
export function checkItemSource(config: ItemSourceConfig, ctx: z.RefinementCtx): void {
  if (config.items !== undefined && config.from_step !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['from_step'], message: 'set either items or from_step, not both' });
  }
}

export const itemPayloadSchema = z.object({
  item: z.json(),
  index: z.number().int().nonnegative(),
});

export function parseItemPayload(payload: JsonValue): TemplateScope {
  const parsed = itemPayloadSchema.safeParse(payload);
  if (!parsed.success) {
    throw new Error(`Worker payload must be { item, index }: ${z.prettifyError(parsed.error)}`);
  }
  return { item: parsed.data.item as JsonValue, index: parsed.data.index };
}

const BATCH = 500;

/**
 * Yields worker specs in batches. `name` names a job from its item (falls back to "item N" when the
 * name cannot be rendered: the job itself will then fail with the template error, where it belongs).
 */
export async function* planItems(params: {
  ctx: PlanContext<ItemSourceConfig>;
  name: (scope: TemplateScope) => string;
}): AsyncGenerator<WorkerSpec[]> {
  const { ctx } = params;
  const spec = (scope: TemplateScope, key: string, extra?: { [k: string]: JsonValue }): WorkerSpec => {
    let name: string;
    try {
      name = params.name(scope);
    } catch {
      name = `item ${scope.index}`;
    }
    return { key, name, payload: { item: scope.item, index: scope.index, ...extra } };
  };

  const { items, from_step: fromStep } = ctx.config;
  if (items !== undefined) {
    for (let start = 0; start < items.length; start += BATCH) {
      throwIfAborted(ctx.signal);
      yield items.slice(start, start + BATCH).map((item, i) => spec({ item, index: start + i }, `item:${start + i}`));
    }
    return;
  }
  if (fromStep !== undefined) {
    if (!ctx.dependencies.names.includes(fromStep)) {
      throw new Error(
        `from_step = "${fromStep}" is not a dependency of step "${ctx.run.stepName}"; add it to depends_on ` +
          `(dependencies: ${ctx.dependencies.names.join(', ') || 'none'})`,
      );
    }
    let batch: WorkerSpec[] = [];
    let index = 0;
    for await (const r of ctx.dependencies.results(fromStep)) {
      batch.push(spec({ item: r.result, index }, `job:${r.jobId}`, { from_job: r.jobId }));
      index++;
      if (batch.length >= BATCH) {
        throwIfAborted(ctx.signal);
        yield batch;
        batch = [];
      }
    }
    if (batch.length > 0) yield batch;
    if (index === 0) ctx.log('warn', `from_step "${fromStep}" has no completed results: nothing to do`);
    return;
  }
  yield [spec({ item: null, index: 0 }, 'single')];
}
