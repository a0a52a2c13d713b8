/**
 * /healthz, /metrics, /api/stats, /api/step-types and /api/openapi.json.
 */
import type { FastifyInstance, RouteOptions } from 'fastify';
import { z } from 'zod';
import type { Stepq } from '../../engine/engine.js';
import type { Registry } from 'prom-client';
import { Stats, StepType, withErrors } from '../schemas.js';
import { wireCounts } from '../wire-mappers.js';

export async function systemRoutes(
  app: FastifyInstance,
  opts: { engine: Stepq; metrics: Registry; routes: () => RouteOptions[]; version: string },
): Promise<void> {
  const { engine } = opts;

  app.get('/healthz', { schema: { summary: 'Liveness and store reachability' } }, async (_request, reply) => {
    try {
      const stats = await engine.stats();
      return { status: 'ok', store: engine.store.capabilities.dialect, runs_running: stats.runs.running };
    } catch (err) {
      void reply.status(503);
      return { status: 'unavailable', error: (err as Error).message };
    }
  });

  app.get('/metrics', { schema: { summary: 'Prometheus metrics' } }, async (_request, reply) => {
    void reply.type(opts.metrics.contentType);
    return opts.metrics.metrics();
  });

  app.get('/api/stats', { schema: { summary: 'Runs by status (from counters)', response: withErrors({ 200: Stats }) } }, async () => {
    const s = await engine.stats();
    return { runs: wireCounts(s.runs) };
  });

  app.get('/api/step-types', { schema: { summary: 'Registered step types', response: withErrors({ 200: z.array(StepType) }) } }, async () =>
    engine.registry.names().map((name) => ({
      name,
      description: engine.registry.get(name)?.description ?? null,
      enabled: engine.registry.isAllowed(name),
    })),
  );

  app.get('/api/openapi.json', { schema: { summary: 'This document' } }, async () => openapi(opts.routes(), opts.version));
}

/** An OpenAPI 3 document built from the routes' own schemas. */
function openapi(routes: RouteOptions[], version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    if (typeof r.url !== 'string' || !(r.url.startsWith('/api') || r.url === '/healthz' || r.url === '/metrics' || r.url === '/ws'))
      continue;
    const path = r.url.replace(/:([a-z_]+)/g, '{$1}');
    const methods = (Array.isArray(r.method) ? r.method : [r.method]).map((m) => m.toLowerCase()).filter((m) => m !== 'head');
    const schema = (r.schema ?? {}) as {
      summary?: string;
      params?: { properties?: Record<string, unknown> };
      querystring?: { properties?: Record<string, unknown> };
      body?: unknown;
      response?: Record<string, unknown>;
    };
    const parameters = [
      ...Object.entries(schema.params?.properties ?? {}).map(([name, s]) => ({ name, in: 'path', required: true, schema: s })),
      ...Object.entries(schema.querystring?.properties ?? {}).map(([name, s]) => ({ name, in: 'query', required: false, schema: s })),
    ];
    const responses: Record<string, unknown> = {};
    for (const [code, s] of Object.entries(schema.response ?? { 200: {} })) {
      responses[code] = {
        description: Number(code) < 400 ? 'OK' : 'Error: { error: { code, message, details } }',
        content: { 'application/json': { schema: s } },
      };
    }
    for (const method of methods) {
      paths[path] ??= {};
      paths[path][method] = {
        summary: schema.summary ?? (r.url === '/ws' ? 'Live state over WebSocket (see src/wire/live.ts)' : ''),
        ...(parameters.length ? { parameters } : {}),
        ...(schema.body ? { requestBody: { content: { 'application/json': { schema: schema.body } } } } : {}),
        responses,
      };
    }
  }
  return {
    openapi: '3.0.3',
    info: { title: 'stepq API', version, description: 'Runs, steps and worker jobs; definitions; live state on /ws.' },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    paths,
  };
}
