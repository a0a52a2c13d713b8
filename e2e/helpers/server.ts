/**
 * The real server for browser tests: the engine on a temp SQLite file and `buildApp`, listening on
 * 127.0.0.1. `restart()` stops it and starts it again on the same file and port (a server restart
 * as the page sees it).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { pino } from 'pino';
import { createStepq, type Stepq } from '../../src/engine/engine.js';
import { buildApp } from '../../src/server/app.js';
import { launchBrowser } from './browser.js';

export interface TestServer {
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  engine: Stepq;
  /** JSON API call; throws with the answer's text when the status is not 2xx. */
  api<T>(method: string, path: string, body?: unknown, contentType?: string): Promise<T>;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Removes the temp folder (after stop). */
  cleanup(): void;
}

export interface ServerOptions {
  concurrency?: number;
  /** Require this token (Authorization: Bearer, or ?token= on /ws). */
  token?: string;
  /** Extra definitions to save before the server starts (TOML sources). */
  definitions?: string[];
}

export async function startServer(opts: ServerOptions = {}): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), 'stepq-e2e-'));
  const store = `sqlite:${join(dir, 'stepq.db')}`;
  const webRoot = join(dir, 'web');
  await buildPage(webRoot);
  let engine: Stepq | null = null;
  let app: Awaited<ReturnType<typeof buildApp>> | null = null;
  let port = 0;

  const start = async (): Promise<void> => {
    const e = await createStepq({
      store,
      concurrency: opts.concurrency ?? 16,
      // Short leases so jobs left running by a stop are taken back soon after the restart.
      leaseMs: 3000,
      rescueIntervalMs: 500,
      logger: pino({ level: 'silent' }),
      allowScript: true,
    });
    e.start({ workers: true, rescuer: true, scheduler: false });
    const a = await buildApp({ engine: e, logger: false, webRoot, token: opts.token ?? null });
    await a.listen({ host: '127.0.0.1', port });
    const address = a.server.address();
    if (address && typeof address === 'object') port = address.port;
    engine = e;
    app = a;
  };

  await start();
  const server: TestServer = {
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    dir,
    get engine() {
      if (!engine) throw new Error('the server is stopped');
      return engine;
    },
    set engine(_e) {
      throw new Error('read-only');
    },
    async api<T>(method: string, path: string, body?: unknown, contentType?: string): Promise<T> {
      const headers: Record<string, string> = opts.token ? { authorization: `Bearer ${opts.token}` } : {};
      let payload: string | undefined;
      if (body !== undefined) {
        headers['content-type'] = contentType ?? 'application/json';
        payload = typeof body === 'string' ? body : JSON.stringify(body);
      }
      const res = await fetch(`${server.url}${path}`, {
        method,
        headers,
        body: payload,
      });
      const text = await res.text();
      if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
      return (text ? JSON.parse(text) : undefined) as T;
    },
    async stop() {
      const a = app;
      const e = engine;
      app = null;
      engine = null;
      if (a) await a.close();
      if (e) await e.stop({ graceMs: 2000 });
    },
    start,
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
  for (const source of opts.definitions ?? []) await server.api('POST', '/api/job-definitions', source, 'application/toml');
  return server;
}

/** Builds the page (vite build of web/) into `outDir`: each test file gets its own copy. */
export async function buildPage(outDir: string): Promise<void> {
  const { build } = await import('vite');
  // Vitest runs with NODE_ENV=test, which would give the page React's development build: build
  // what `npm run build:web` ships.
  const env = process.env.NODE_ENV;
  process.env.NODE_ENV = 'production';
  try {
    await build({
      configFile: fileURLToPath(new URL('../../web/vite.config.ts', import.meta.url)),
      mode: 'production',
      logLevel: 'warn',
      build: { outDir, emptyOutDir: true, sourcemap: false },
    });
  } finally {
    process.env.NODE_ENV = env;
  }
}

/** One server and one browser for a test file: started in its beforeAll, stopped (both, whatever fails) in its afterAll. */
export async function startSuite(opts: ServerOptions = {}): Promise<{ server: TestServer; browser: Browser }> {
  const server = await startServer(opts);
  try {
    return { server, browser: await launchBrowser() };
  } catch (err) {
    await stopSuite(server, undefined);
    throw err;
  }
}

export async function stopSuite(server: TestServer | undefined, browser: Browser | undefined): Promise<void> {
  try {
    await browser?.close();
  } finally {
    try {
      await server?.stop();
    } finally {
      server?.cleanup();
    }
  }
}
