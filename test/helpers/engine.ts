import { join } from 'node:path';
import { pino } from 'pino';
import { createStepq, type Stepq, type StepqOptions } from '../../src/engine/engine.js';
import { tempDir } from './temp.js';

export interface TestEngine {
  engine: Stepq;
  dir: string;
  dbPath: string;
  close(): Promise<void>;
}

/** An engine on a fresh SQLite file in a temp folder, workers started. */
export async function testEngine(opts: StepqOptions & { start?: boolean } = {}): Promise<TestEngine> {
  const dir = tempDir('stepq-engine-');
  const dbPath = join(dir.path, 'stepq.db');
  const engine = await createStepq({
    store: `sqlite:${dbPath}`,
    logger: pino({ level: process.env.STEPQ_TEST_LOG ?? 'silent' }),
    pollMs: 50,
    ...opts,
  });
  if (opts.start !== false) engine.start();
  return {
    engine,
    dir: dir.path,
    dbPath,
    async close() {
      await engine.stop({ graceMs: 1000 });
      dir.cleanup();
    },
  };
}

/** A TOML definition from a compact description. */
export function toml(lines: string[]): { source: string } {
  return { source: lines.join('\n') };
}
