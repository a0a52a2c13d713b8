/**
 * Token auth: when a token is set (required off loopback), every API request and the WebSocket
 * handshake must carry it. Browsers cannot set headers on a WebSocket, so /ws also takes ?token=.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { errorBody } from './error-handler.js';

function equal(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function presented(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (header?.startsWith('Bearer ')) return header.slice('Bearer '.length).trim();
  // Only the socket takes the token in its URL (browsers cannot set its headers); URLs end up in logs.
  if (!request.url.startsWith('/ws')) return null;
  const q = (request.query as { token?: unknown } | undefined)?.token;
  return typeof q === 'string' ? q : null;
}

/** Paths that need the token: the API, the socket and metrics. Health and the page's assets do not. */
function protectedPath(url: string): boolean {
  return url.startsWith('/api/') || url === '/api' || url.startsWith('/ws') || url.startsWith('/metrics');
}

export function installAuth(app: FastifyInstance, token: string | null): void {
  if (!token) return;
  app.addHook('onRequest', async (request, reply) => {
    if (!protectedPath(request.url)) return;
    const given = presented(request);
    if (given === null || !equal(given, token)) {
      if (request.headers.upgrade?.toLowerCase() === 'websocket') {
        // A refused upgrade's socket is outside the HTTP server's bookkeeping: close it once the
        // 401 is written, or it leaks (and server.close() waits for it for ever).
        const socket = request.raw.socket;
        reply.raw.once('finish', () => socket.destroy());
      }
      await reply
        .status(401)
        .header('www-authenticate', 'Bearer')
        .send(errorBody('ERR_UNAUTHORIZED', 'A valid token is required. Send "Authorization: Bearer <STEPQ_TOKEN>" (or ?token= on /ws).'));
    }
  });
}

/**
 * Other websites must not act on a stepq reachable from the user's browser (the default loopback
 * server has no token): a request that changes something, and any socket (which streams job names,
 * paths and errors), is refused when the browser says it comes from another origin. Same-origin
 * pages, and clients that send no Origin (curl, the CLI, other servers), are not affected.
 */
export function installOriginGuard(app: FastifyInstance, allowed: string[]): void {
  const extra = new Set(allowed.map((o) => o.replace(/\/+$/, '').toLowerCase()));
  app.addHook('onRequest', async (request, reply) => {
    const origin = request.headers.origin;
    if (!origin) return;
    const isSocket = request.headers.upgrade?.toLowerCase() === 'websocket';
    if (!isSocket && (request.method === 'GET' || request.method === 'HEAD' || request.method === 'OPTIONS')) return;
    // Compare as URLs of the origin's scheme, so default ports match (http://h:80 is http://h).
    let same: boolean;
    try {
      const o = new URL(origin);
      same = o.host === new URL(`${o.protocol}//${request.headers.host ?? ''}`).host;
    } catch {
      same = false;
    }
    if (same) return;
    if (extra.has(origin.toLowerCase())) return;
    if (isSocket) {
      const socket = request.raw.socket;
      reply.raw.once('finish', () => socket.destroy());
    }
    await reply
      .status(403)
      .send(
        errorBody('ERR_FORBIDDEN_ORIGIN', `Requests from ${origin} are refused: only the page served by stepq may act on it.`, { origin }),
      );
  });
}
