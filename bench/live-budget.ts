/**
 * The live budget: while a run of many no-op jobs finishes, how many job events the engine produces
 * per second, and how many messages one watching client receives per second (run view + a step's
 * worker list with 30 rows on screen). The second must stay bounded by what is on screen.
 * Usage: tsx bench/live-budget.ts [jobs=50000]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import WebSocket from 'ws';
import { createStepq } from '../src/engine/engine.js';
import { buildApp } from '../src/server/app.js';
import type { ServerMessage } from '../src/wire/live.js';

const JOBS = Number(process.argv[2] ?? 50_000);
const dir = mkdtempSync(join(tmpdir(), 'stepq-live-'));
const engine = await createStepq({ store: `sqlite:${join(dir, 'b.db')}`, logger: pino({ level: 'silent' }), concurrency: 50 });
const app = await buildApp({ engine });
await app.listen({ host: '127.0.0.1', port: 0 });
const port = (app.server.address() as { port: number }).port;
let events = 0;
engine.bus.on('job_status_change', () => (events += 1));
try {
  const run = await engine.startRun({
    definition: { source: `id = "live"\nname = "Live"\n[step.s]\ntype = "synthetic"\ncount = ${JOBS}\n` },
  });
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
  const messages: ServerMessage[] = [];
  let frames = 0;
  ws.on('message', (d: Buffer) => {
    frames += 1;
    messages.push(...(JSON.parse(d.toString('utf8')) as ServerMessage[]));
  });
  await new Promise((r) => ws.once('open', r));
  const stepId = run.steps[0]!.id;
  ws.send(JSON.stringify({ type: 'subscribe', topic: `run:${run.managerId}` }));
  engine.start();
  // The first 30 worker jobs are "on screen" once planned.
  await new Promise<void>((resolve) => {
    const off = engine.bus.on('step_progress', (p) => {
      if (p.counts.total >= 30) {
        off();
        resolve();
      }
    });
  });
  const ids = (await engine.listJobs({ stepId, limit: 30 })).data.map((j) => j.id);
  ws.send(JSON.stringify({ type: 'subscribe', topic: `step:${stepId}`, ids }));
  const t0 = performance.now();
  await engine.waitForRun(run.managerId, { pollMs: 50 });
  await new Promise((r) => setTimeout(r, 600)); // the last tick
  const s = (performance.now() - t0) / 1000;
  ws.terminate();
  console.log(
    `${JOBS.toLocaleString('en-US')} jobs in ${s.toFixed(1)} s: the engine made ${Math.round(events / s).toLocaleString('en-US')} job events/s;`,
  );
  console.log(
    `one client watching the run and 30 rows of its worker list got ${Math.round(messages.length / s)} messages/s in ${Math.round(frames / s)} frames/s`,
  );
  console.log(
    `(${messages.length} messages for ${events.toLocaleString('en-US')} events: ${(events / Math.max(1, messages.length)).toFixed(0)}× fewer)`,
  );
} finally {
  await app.close();
  await engine.stop();
  rmSync(dir, { recursive: true, force: true });
}
