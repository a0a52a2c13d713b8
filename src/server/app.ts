/**
 * buildApp: the Fastify instance with the REST API, the live socket and the page's assets. It never
 * listens; `stepq serve` does, and tests use `app.inject()` or listen on 127.0.0.1:0 themselves.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import fastifyWebsocket from '@fastify/websocket';
import Fastify, { type FastifyInstance, type RouteOptions } from 'fastify';
import type { Logger } from 'pino';
import type { Stepq } from '../engine/engine.js';
import { installAuth, installOriginGuard } from './auth.js';
import { errorBody, installErrorHandler } from './error-handler.js';
import { installFiniteQueryNumbers } from './query-numbers.js';
import { LiveHub, type HubOptions } from './live/hub.js';
import { createMetrics } from './metrics.js';
import { definitionRoutes, type FileProblem } from './routes/definitions.js';
import { jobRoutes } from './routes/jobs.js';
import { systemRoutes } from './routes/system.js';
import { liveRoute } from './live/socket-route.js';

export interface AppOptions {
  engine: Stepq;
  /** Required for any host but loopback (checked by `stepq serve`). */
  token?: string | null;
  logger?: Logger | false;
  /** Definition files that failed to load, listed as invalid. */
  fileProblems?: () => FileProblem[];
  /** Where the built page lives (default: web/dist of this package). */
  webRoot?: string;
  hub?: Omit<HubOptions, 'engine'>;
  /** Origins besides the server's own whose pages may act on it (e.g. a Vite dev server). */
  allowedOrigins?: string[];
  /** Largest request body (default 1 MiB: definitions and run params are small). */
  bodyLimit?: number;
}

const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));

function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(`${PACKAGE_ROOT}package.json`, 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

export async function buildApp(options: AppOptions): Promise<FastifyInstance & { hub: LiveHub }> {
  const app = Fastify({
    loggerInstance: options.logger || undefined,
    logger: options.logger ? undefined : false,
    bodyLimit: options.bodyLimit ?? 1024 * 1024,
    // Closing the server closes every connection (sockets and upgrades included), so shutdown never hangs.
    forceCloseConnections: true,
    // Ajv: coerce query strings to the declared types, reject unknown body fields.
    ajv: { customOptions: { coerceTypes: true, removeAdditional: false, allErrors: true } },
  } as Parameters<typeof Fastify>[0]) as unknown as FastifyInstance;
  const routes: RouteOptions[] = [];
  app.addHook('onRoute', (r) => {
    routes.push(r);
  });
  installErrorHandler(app);
  installAuth(app, options.token ?? null);
  installOriginGuard(app, options.allowedOrigins ?? []);
  installFiniteQueryNumbers(app);

  // Definitions arrive as TOML text.
  app.addContentTypeParser(['application/toml', 'text/plain', 'text/x-toml'], { parseAs: 'string' }, (_req, body, done) =>
    done(null, body),
  );

  const hub = new LiveHub({ engine: options.engine, ...options.hub });
  const metrics = createMetrics(options.engine, hub);
  app.addHook('onClose', async () => {
    hub.close();
    metrics.close();
  });

  await app.register(fastifyWebsocket, { options: { maxPayload: 64 * 1024 } });
  await app.register(liveRoute, { hub });
  await app.register(jobRoutes, { engine: options.engine });
  await app.register(definitionRoutes, { engine: options.engine, fileProblems: options.fileProblems ?? (() => []) });
  await app.register(systemRoutes, { engine: options.engine, metrics: metrics.registry, routes: () => routes, version: packageVersion() });

  const webRoot = options.webRoot ?? `${PACKAGE_ROOT}web/dist`;
  const hasPage = existsSync(`${webRoot}/index.html`);
  if (hasPage) {
    await app.register(fastifyStatic, { root: webRoot, prefix: '/', wildcard: false, index: ['index.html'] });
  }
  // The page routes in the browser: unknown GETs outside the API get index.html.
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? '';
    if (request.method === 'GET' && !path.startsWith('/api') && !path.startsWith('/ws') && !/\.[a-z0-9]+$/i.test(path)) {
      if (hasPage) return reply.type('text/html').sendFile('index.html');
      return reply
        .type('text/html')
        .send(
          '<!doctype html><title>stepq</title><p>The page is not built. Run <code>npm run build</code>, then reload. The API is at <a href="/api/openapi.json">/api/openapi.json</a>.</p>',
        );
    }
    return reply.status(404).send(errorBody('ERR_NOT_FOUND', `No route ${request.method} ${path}.`));
  });
  return Object.assign(app, { hub });
}
