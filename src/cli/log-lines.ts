/**
 * Engine logs for interactive commands: one readable line each ("stepq: warn: …"), not pino's JSON,
 * which suits services (serve, worker) and log collectors but not a terminal next to progress bars.
 */
import { pino, type Logger } from 'pino';
import { safeText } from './format.js';

const LEVELS: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
const SKIP = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'component']);

export function lineLogger(level: string, out: NodeJS.WritableStream): Logger {
  return pino(
    { level },
    {
      write(line: string) {
        let o: Record<string, unknown>;
        try {
          o = JSON.parse(line) as Record<string, unknown>;
        } catch {
          out.write(line);
          return;
        }
        const extra = Object.entries(o)
          .filter(([k]) => !SKIP.has(k))
          .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
          .join(' ');
        const where = typeof o.component === 'string' ? ` (${o.component})` : '';
        out.write(
          `stepq: ${LEVELS[o.level as number] ?? 'log'}${where}: ${safeText(String(o.msg ?? ''), 500)}${extra ? ` — ${safeText(extra, 500)}` : ''}\n`,
        );
      },
    },
  );
}
