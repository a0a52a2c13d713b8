/**
 * `stepq serve`: the HTTP API, the live socket and the page, plus (unless --no-workers) the worker
 * pool and the cron scheduler. Binds 127.0.0.1 by default; any other host needs a token.
 */
import { redactStoreUrl } from '../engine/store-url.js';
import { storeFileProblem } from './store-file.js';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { readTextFile } from './read-text.js';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { errorMessage } from '../core/errors.js';
import { createStepq, type Stepq } from '../engine/engine.js';
import { buildApp } from '../server/app.js';
import type { FileProblem } from '../server/routes/definitions.js';
import type { Io } from './run.js';
import { onBrokenPipe } from './broken-pipe.js';

export interface ServeOptions {
  store: string;
  host: string;
  port: number;
  definitions?: string[];
  workers: boolean;
  concurrency: number;
  allowShell: boolean;
  allowScript?: boolean;
  allowOrigin?: string[];
  token?: string;
  logLevel: string;
}

const EXAMPLES = fileURLToPath(new URL('../../examples/', import.meta.url));

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Loads every *.toml and *.json of the folders into the store; invalid files are reported, never fatal. */
export async function loadDefinitionFolders(engine: Stepq, folders: string[], log: (line: string) => void): Promise<FileProblem[]> {
  const problems: FileProblem[] = [];
  for (const folder of folders) {
    let names: string[];
    try {
      names = (await readdir(folder)).filter((n) => /\.(toml|json)$/i.test(n)).sort();
    } catch (err) {
      log(`definitions: cannot read ${folder}: ${errorMessage(err)}`);
      continue;
    }
    for (const name of names) {
      const path = join(folder, name);
      const rel = relative(process.cwd(), path);
      const file = rel && !rel.startsWith('..') ? rel : path;
      try {
        const source = await readTextFile(path);
        const parsed = engine.parse(source, file);
        if (!parsed.ok) {
          problems.push({ file, id: name.replace(/\.(toml|json)$/i, ''), issues: parsed.issues });
          log(
            `definitions: ${file} is invalid (${parsed.issues.length} problem${parsed.issues.length === 1 ? '' : 's'}); first: line ${parsed.issues[0]?.line ?? '?'}: ${parsed.issues[0]?.message ?? ''}`,
          );
          continue;
        }
        await engine.saveDefinition({ source, file });
      } catch (err) {
        problems.push({ file, id: name.replace(/\.(toml|json)$/i, ''), issues: [{ file, path: '', message: errorMessage(err) }] });
      }
    }
  }
  return problems;
}

export async function serveCommand(opts: ServeOptions, io: Io): Promise<number> {
  const token = opts.token ?? process.env.STEPQ_TOKEN ?? null;
  if (token !== null && token.length < 16) {
    io.err.write('stepq: the token is too short to protect anything: use at least 16 random characters (e.g. `openssl rand -hex 16`).\n');
    return 2;
  }
  if (!isLoopback(opts.host) && !token) {
    io.err.write(
      `stepq: refusing to serve on ${opts.host} without a token: anyone who reaches it could run and delete jobs.\n` +
        `Set STEPQ_TOKEN (or --token), or serve on 127.0.0.1.\n`,
    );
    return 2;
  }
  const logger = pino({ level: opts.logLevel }, pino.destination(2));
  const problem = storeFileProblem(opts.store, 'create');
  if (problem) {
    io.err.write(`stepq: ${problem}\n`);
    return 2;
  }
  let engine: Stepq;
  try {
    engine = await createStepq({
      store: opts.store,
      concurrency: opts.concurrency,
      allowShell: opts.allowShell,
      allowScript: opts.allowScript ?? false,
      logger,
    });
  } catch (err) {
    io.err.write(`stepq: cannot open the store ${redactStoreUrl(opts.store)}: ${errorMessage(err)}\n`);
    return 2;
  }
  // The given folders (or ./definitions when there is one), plus the examples; a file of the same id
  // in a folder listed earlier wins, since later ones are loaded first.
  const own = opts.definitions?.length
    ? opts.definitions.map((d) => resolve(d))
    : existsSync('definitions')
      ? [resolve('definitions')]
      : [];
  const folders = [EXAMPLES, ...own.reverse()];
  let problems = await loadDefinitionFolders(engine, folders, (line) => io.err.write(`${line}\n`));
  engine.start({ workers: opts.workers, rescuer: true, scheduler: true, watchOthers: true });

  const allowedOrigins = [...(opts.allowOrigin ?? []), ...(process.env.STEPQ_ALLOWED_ORIGINS ?? '').split(',').filter(Boolean)];
  const app = await buildApp({ engine, token, logger, fileProblems: () => problems, allowedOrigins });
  try {
    await app.listen({ host: opts.host, port: opts.port });
  } catch (err) {
    io.err.write(`stepq: cannot listen on ${opts.host}:${opts.port}: ${errorMessage(err)}\n`);
    await engine.stop();
    return 2;
  }
  const shown = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  // The port bound, which differs from the one asked for with --port 0 (any free port).
  const bound = app.server.address();
  const port = bound !== null && typeof bound === 'object' ? bound.port : opts.port;
  io.err.write(
    `stepq serving http://${shown}:${port}/ — store ${redactStoreUrl(opts.store)}, ${opts.workers ? `workers ${opts.concurrency}` : 'no workers'}, ` +
      `definitions from ${folders.map((f) => relative(process.cwd(), f) || '.').join(', ')}${token ? ', token required' : ''}\n`,
  );

  return new Promise<number>((done) => {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) {
        io.err.write(`stepq: second ${signal}, exiting now.\n`);
        process.exit(130);
      }
      stopping = true;
      io.err.write(`stepq: ${signal}: finishing running jobs (up to 10 s), then stopping…\n`);
      void (async () => {
        await app.close();
        await engine.stop({ graceMs: 10_000 });
        done(0);
      })();
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
    // Its stderr closed (`stepq serve 2>&1 | tee log`, and tee died): stop as on SIGTERM, not mid-job.
    onBrokenPipe(() => {
      if (!stopping) stop('output closed');
    });
    process.on('SIGHUP', () => {
      void loadDefinitionFolders(engine, folders, (line) => io.err.write(`${line}\n`)).then((p) => {
        problems = p;
        io.err.write('stepq: definitions reloaded.\n');
      });
    });
  });
}
