// Route summaries live beside the schemas; they feed /api/openapi.json.
import 'fastify';

declare module 'fastify' {
  interface FastifySchema {
    summary?: string;
  }
}
