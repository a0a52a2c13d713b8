/**
 * `stepq worker --store postgres://…`: one more process working the shared queue. Runs the worker
 * pool and the lease rescuer only (no HTTP, no scheduler); any number of them, on any number of
 * machines, share one PostgreSQL store. Logs JSON lines (pino) to stderr.
 *
 * SIGINT / SIGTERM: stop claiming, let running jobs finish for up to `--grace` (default 10 s), hand
 * the rest back to the queue (no attempt spent), flush, exit 0. A second signal exits at once (130);
 * the jobs still leased then come back when their leases expire.
 */
import { redactStoreUrl } from '../engine/store-url.js';
import { pino, type Logger } from 'pino';
import { errorMessage } from '../core/errors.js';
import { createStepq, type Stepq } from '../engine/engine.js';
import type { Io } from './run.js';

export interface WorkerOptions {
  store: string;
  concurrency: number;
  /** Comma-separated step types this worker claims (default: all it knows). */
  types?: string;
  allowShell: boolean;
  allowScript?: boolean;
  leaseMs?: number;
  rescueMs?: number;
  graceMs: number;
  logLevel: string;
}

export function isSharedStoreUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//.test(url);
}

export async function workerCommand(opts: WorkerOptions, io: Io, signals: NodeJS.EventEmitter = process): Promise<number> {
  if (!isSharedStoreUrl(opts.store)) {
    io.err.write(
      `stepq worker: "${redactStoreUrl(opts.store)}" is not a store several processes can share. A SQLite store belongs to one process ` +
        `(\`stepq run\` or \`stepq serve\` run its workers); start workers with --store postgres://user@host:port/db.\n`,
    );
    return 2;
  }
  const types = opts.types
    ?.split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  const logger: Logger = pino({ level: opts.logLevel, base: { pid: process.pid } }, pino.destination(2));
  let engine: Stepq;
  try {
    engine = await createStepq({
      store: opts.store,
      concurrency: opts.concurrency,
      allowShell: opts.allowShell,
      allowScript: opts.allowScript ?? false,
      logger,
      ...(types?.length ? { types } : {}),
      ...(opts.leaseMs ? { leaseMs: opts.leaseMs } : {}),
      ...(opts.rescueMs ? { rescueIntervalMs: opts.rescueMs } : {}),
    });
  } catch (err) {
    io.err.write(`stepq worker: cannot open the store: ${errorMessage(err)}\n`);
    return 2;
  }
  for (const t of types ?? []) {
    if (!engine.registry.get(t))
      logger.warn({ type: t }, 'no step type of this name is registered here; jobs of it are claimed by other workers only');
  }
  engine.start({ workers: true, rescuer: true, scheduler: false });
  logger.info({ owner: engine.owner, concurrency: opts.concurrency, types: types ?? 'all' }, 'worker started');

  return new Promise<number>((done) => {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) {
        logger.warn({ signal }, 'second signal: exiting now; leased jobs come back when their leases expire');
        process.exit(130);
      }
      stopping = true;
      logger.info({ signal, graceMs: opts.graceMs }, 'stopping: finishing running jobs, then handing back the rest');
      void engine
        .stop({ graceMs: opts.graceMs })
        .then(
          () => {
            logger.info('worker stopped');
            done(0);
          },
          (err: unknown) => {
            logger.error({ err: errorMessage(err) }, 'stopping failed');
            done(1);
          },
        )
        .finally(() => {
          signals.off('SIGINT', onInt);
          signals.off('SIGTERM', onTerm);
        });
    };
    const onInt = (): void => stop('SIGINT');
    const onTerm = (): void => stop('SIGTERM');
    signals.on('SIGINT', onInt);
    signals.on('SIGTERM', onTerm);
  });
}
