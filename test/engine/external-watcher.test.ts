/**
 * A serving process sees the progress of runs that another process runs on the same SQLite file.
 */
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { ManagerProgress } from '../../src/core/events.js';
import { createStepq, type Stepq } from '../../src/engine/engine.js';
import { testEngine, toml, type TestEngine } from '../helpers/engine.js';

let viewer: TestEngine | null = null;
let runner: Stepq | null = null;
afterEach(async () => {
  await runner?.stop();
  await viewer?.close();
  runner = viewer = null;
});

describe('runs of other processes on one SQLite file', () => {
  it('are published as progress by the watching engine', async () => {
    viewer = await testEngine({ start: false });
    viewer.engine.start({ workers: false, watchOthers: true });
    const seen: ManagerProgress[] = [];
    viewer.engine.bus.on('manager_progress', (m) => seen.push(m));
    // The "other process": its own store connection on the same file, its own workers.
    runner = await createStepq({ store: `sqlite:${viewer.dbPath}`, logger: pino({ level: 'silent' }), pollMs: 20 });
    runner.start();
    const run = await runner.run({
      definition: toml(['id = "x"', 'name = "X"', '[step.s]', 'type = "synthetic"', 'count = 300', 'duration_ms = 5']),
    });
    await run.done;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the viewer never saw the run end')), 10_000);
      const check = (): void => {
        if (seen.some((m) => m.managerId === run.managerId && m.status === 'completed')) {
          clearTimeout(timer);
          resolve();
        } else setTimeout(check, 50);
      };
      check();
    });
    const final = seen.filter((m) => m.managerId === run.managerId).at(-1)!;
    expect(final.counts).toMatchObject({ completed: 300, total: 300 });
  });
});
