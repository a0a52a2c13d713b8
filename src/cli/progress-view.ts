/**
 * Live progress of a run in the terminal: a bar per step on a TTY, periodic plain lines otherwise
 * (CI logs, pipes). It listens to the engine's coalescable progress events, never to job events.
 */
import cliProgress from 'cli-progress';
import type { StepProgress } from '../core/events.js';
import type { EventBus } from '../events/bus.js';
import { countsLine, formatMs } from './format.js';

export interface ProgressView {
  stop(): void;
}

export function showProgress(opts: {
  bus: EventBus;
  managerId: number;
  stepNames: string[];
  out: NodeJS.WriteStream;
  plainEveryMs?: number;
}): ProgressView {
  const latest = new Map<number, StepProgress>();
  const width = Math.max(...opts.stepNames.map((n) => n.length), 4);
  const off = opts.bus.on('step_progress', (p) => {
    if (p.managerId === opts.managerId) latest.set(p.stepId, p);
  });

  if (opts.out.isTTY) {
    const multi = new cliProgress.MultiBar(
      {
        format: ` {name} |{bar}| {value}/{total} · {detail}`,
        barsize: 24,
        hideCursor: true,
        clearOnComplete: false,
        stopOnComplete: false,
        fps: 8,
        stream: opts.out,
      },
      cliProgress.Presets.shades_classic,
    );
    const bars = new Map<number, cliProgress.SingleBar>();
    const render = (): void => {
      for (const p of latest.values()) {
        const done = p.counts.completed + p.counts.failed + p.counts.cancelled;
        const detail = `${p.status}${p.counts.failed ? ` · ${p.counts.failed} failed` : ''}${p.counts.running ? ` · ${p.counts.running} running` : ''} · ${p.ratePerSec}/s${p.etaMs ? ` · ETA ${formatMs(p.etaMs)}` : ''}`;
        let bar = bars.get(p.stepId);
        const payload = { name: p.name.padEnd(width), detail };
        if (!bar) {
          bar = multi.create(Math.max(p.counts.total, 1), done, payload);
          bars.set(p.stepId, bar);
        }
        bar.setTotal(Math.max(p.counts.total, 1));
        bar.update(done, payload);
      }
    };
    const timer = setInterval(render, 125);
    return {
      stop() {
        clearInterval(timer);
        off();
        render(); // the final state, which may have come after the last tick
        multi.stop();
      },
    };
  }

  const every = opts.plainEveryMs ?? 2000;
  const printed = new Map<number, string>();
  const print = (): void => {
    for (const p of latest.values()) {
      const line = `${p.name.padEnd(width)}  ${p.status.padEnd(9)} ${countsLine(p.counts)}${p.ratePerSec ? ` · ${p.ratePerSec}/s` : ''}`;
      if (printed.get(p.stepId) === line) continue;
      printed.set(p.stepId, line);
      opts.out.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`);
    }
  };
  const timer = setInterval(print, every);
  return {
    stop() {
      clearInterval(timer);
      off();
      print();
    },
  };
}
