/**
 * Query-string numbers must be finite. Ajv's type coercion turns "1e309" or "Infinity" into Infinity,
 * which passes its integer check (and, for some keywords, its bounds): a limit of Infinity once
 * returned twice the maximum page and an offset of Infinity reached SQLite as a datatype error.
 */
import type { FastifyInstance } from 'fastify';
import { StepqError } from '../core/errors.js';

interface QuerySchema {
  properties?: Record<string, { type?: string }>;
}

export function installFiniteQueryNumbers(app: FastifyInstance): void {
  app.addHook('preValidation', async (request) => {
    const schema = request.routeOptions.schema?.querystring as QuerySchema | undefined;
    const props = schema?.properties;
    const query = request.query as Record<string, unknown> | undefined;
    if (!props || !query) return;
    const details: Array<{ path: string; message: string }> = [];
    for (const [key, value] of Object.entries(query)) {
      const type = props[key]?.type;
      if ((type === 'integer' || type === 'number') && typeof value === 'string' && !Number.isFinite(Number(value))) {
        details.push({ path: `querystring/${key}`, message: 'must be a finite number' });
      }
    }
    if (details.length > 0) {
      throw new StepqError('ERR_BAD_REQUEST', `Invalid request: ${details.map((d) => `${d.path} ${d.message}`).join('; ')}`, details);
    }
  });
}
