import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/server/app.js';
import type { LiveHub } from '../../src/server/live/hub.js';
import type { StepqOptions } from '../../src/engine/engine.js';
import { testEngine, type TestEngine } from './engine.js';

export interface TestServer extends TestEngine {
  app: FastifyInstance & { hub: LiveHub };
  /** http://127.0.0.1:port once `listen()` was called. */
  url: string;
  listen(): Promise<string>;
}

/** An app on a temp SQLite engine; call listen() for real sockets (127.0.0.1, free port). */
export async function testServer(opts: StepqOptions & { token?: string; tickMs?: number; start?: boolean } = {}): Promise<TestServer> {
  const t = await testEngine(opts);
  const app = await buildApp({ engine: t.engine, token: opts.token ?? null, hub: { tickMs: opts.tickMs ?? 250 } });
  const server: TestServer = {
    ...t,
    app,
    url: '',
    async listen() {
      await app.listen({ host: '127.0.0.1', port: 0 });
      const addr = app.server.address();
      if (!addr || typeof addr === 'string') throw new Error('no address');
      server.url = `http://127.0.0.1:${addr.port}`;
      return server.url;
    },
    async close() {
      await app.close();
      await t.close();
    },
  };
  return server;
}

export const SYNTHETIC = (id: string, count: number, extra: string[] = []): string =>
  [`id = "${id}"`, `name = "${id}"`, '[step.gen]', 'type = "synthetic"', `count = ${count}`, ...extra].join('\n');
