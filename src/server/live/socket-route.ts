/**
 * GET /ws: one socket per browser tab, attached to the hub. Keep-alive pings find dead peers.
 */
import type { FastifyInstance } from 'fastify';
import type { LiveHub } from './hub.js';

const PING_MS = 30_000;

export async function liveRoute(app: FastifyInstance, opts: { hub: LiveHub }): Promise<void> {
  const { hub } = opts;
  app.get('/ws', { websocket: true, schema: { summary: 'Live state over WebSocket (see src/wire/live.ts)' } }, (socket) => {
    const conn = hub.attach({
      send: (data) => socket.send(data),
      get bufferedAmount() {
        return socket.bufferedAmount;
      },
      close: (code, reason) => socket.close(code, reason),
    });
    let answered = true;
    const ping = setInterval(() => {
      if (!answered) {
        socket.terminate();
        return;
      }
      answered = false;
      socket.ping();
    }, PING_MS);
    ping.unref();
    socket.on('pong', () => {
      answered = true;
    });
    socket.on('message', (data: Buffer) => {
      if (!conn.admit(Date.now())) return;
      let parsed: unknown;
      try {
        parsed = JSON.parse(data.toString('utf8'));
      } catch {
        conn.sendNow([{ type: 'error', seq: 0, payload: { code: 'ERR_BAD_REQUEST', message: 'Messages must be JSON.' } }]);
        return;
      }
      void hub.handle(conn, parsed).catch((err: unknown) => {
        conn.sendNow([{ type: 'error', seq: 0, payload: { code: 'ERR_INTERNAL', message: (err as Error).message } }]);
      });
    });
    socket.on('close', () => {
      clearInterval(ping);
      hub.detach(conn);
    });
    socket.on('error', () => {
      clearInterval(ping);
      hub.detach(conn);
    });
  });
}
