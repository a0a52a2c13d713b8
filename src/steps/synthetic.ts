/**
 * `synthetic`: a step type for tests, demos and benchmarks. It plans `count` worker jobs; each waits
 * `duration_ms`, fails with probability `failure_rate` and spawns `spawn` children per generation,
 * `spawn_depth` generations deep. Failures are a pure function of the job's place in the fan-out
 * (its path, e.g. `17.0.3`), so the same definition fails the same jobs in every run.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { defineStepType, type WorkerSpec } from '../core/step-type.js';

const config = z
  .object({
    count: z.number().int().min(0).max(100_000_000).default(100),
    duration_ms: z.number().min(0).max(3_600_000).default(0),
    failure_rate: z.number().min(0).max(1).default(0),
    spawn: z.number().int().min(0).max(1000).default(0),
    spawn_depth: z.number().int().min(0).max(64).default(0),
    /** Extra payload bytes per job, to measure the cost of larger payloads. */
    payload_bytes: z.number().int().min(0).max(1_000_000).default(0),
  })
  .strict();

export type SyntheticConfig = z.infer<typeof config>;

interface SyntheticPayload {
  path: string;
  gen: number;
  pad?: string;
}

/** True when the job at `path` fails under `rate` (a stable hash of the path, not randomness). */
export function syntheticFails(path: string, rate: number): boolean {
  if (rate <= 0) return false;
  if (rate >= 1) return true;
  const h = createHash('sha1').update(path).digest();
  return h.readUInt32BE(0) / 0x1_0000_0000 < rate;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

const PLAN_CHUNK = 1000;

export const synthetic = defineStepType({
  name: 'synthetic',
  description: 'Generated no-op work for tests, demos and benchmarks.',
  config,
  *plan(ctx) {
    const pad = ctx.config.payload_bytes > 0 ? 'x'.repeat(ctx.config.payload_bytes) : undefined;
    let chunk: WorkerSpec[] = [];
    for (let i = 0; i < ctx.config.count; i++) {
      const path = String(i);
      const payload: SyntheticPayload = pad ? { path, gen: 0, pad } : { path, gen: 0 };
      chunk.push({ name: `${ctx.run.stepName} #${i}`, key: path, payload: payload as unknown as WorkerSpec['payload'] });
      if (chunk.length === PLAN_CHUNK) {
        yield chunk;
        chunk = [];
      }
    }
    if (chunk.length > 0) yield chunk;
  },
  async run(job, ctx) {
    const p = job.payload as unknown as SyntheticPayload;
    await sleep(ctx.config.duration_ms, ctx.signal);
    let spawned = 0;
    if (p.gen < ctx.config.spawn_depth && ctx.config.spawn > 0) {
      const children: WorkerSpec[] = [];
      for (let k = 0; k < ctx.config.spawn; k++) {
        const path = `${p.path}.${k}`;
        children.push({ name: `${ctx.run.stepName} #${path}`, key: path, payload: { path, gen: p.gen + 1 } });
      }
      spawned = (await ctx.spawn(children)).created;
    }
    if (syntheticFails(p.path, ctx.config.failure_rate)) {
      throw new Error(`synthetic failure at ${p.path} (failure_rate ${ctx.config.failure_rate})`);
    }
    return { path: p.path, gen: p.gen, spawned };
  },
});
