/**
 * Prometheus metrics: jobs and runs by status (from counters, read at scrape time), transitions,
 * lease rescues, and the live hub's clients and messages.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Stepq } from '../engine/engine.js';
import type { LiveHub } from './live/hub.js';

export function createMetrics(engine: Stepq, hub: LiveHub): { registry: Registry; close: () => void } {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'stepq_process_' });
  const statuses = ['pending', 'running', 'completed', 'failed', 'cancelled'] as const;

  new Gauge({
    name: 'stepq_jobs',
    help: 'Worker jobs by status (all runs in the store).',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      const s = await engine.stats();
      for (const st of statuses) this.set({ status: st }, s.jobs[st]);
    },
  });
  new Gauge({
    name: 'stepq_runs',
    help: 'Runs (manager jobs) by status.',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      const s = await engine.stats();
      for (const st of statuses) this.set({ status: st }, s.runs[st]);
    },
  });
  const transitions = new Counter({
    name: 'stepq_job_transitions_total',
    help: 'Job status transitions seen by this process, by kind and new status.',
    labelNames: ['kind', 'status'],
    registers: [registry],
  });
  const rescues = new Counter({
    name: 'stepq_lease_rescues_total',
    help: 'Jobs reclaimed after their lease expired.',
    registers: [registry],
  });
  const offs = [
    engine.bus.on('job_status_change', (e) => transitions.inc({ kind: e.kind, status: e.status })),
    engine.bus.on('lease_rescue', (e) => rescues.inc(e.count)),
  ];

  new Gauge({
    name: 'stepq_ws_clients',
    help: 'Open WebSocket connections.',
    registers: [registry],
    collect() {
      this.set(hub.clientCount);
    },
  });
  const hubCounter = (name: string, help: string, read: () => number): void => {
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  };
  hubCounter('stepq_ws_messages_sent_total', 'Live messages sent to clients.', () => hub.stats.sent);
  hubCounter('stepq_ws_messages_coalesced_total', 'Live messages replaced by a newer state before being sent.', () => hub.stats.coalesced);
  hubCounter('stepq_ws_messages_dropped_total', 'Live messages dropped in favour of a resync.', () => hub.stats.dropped);
  hubCounter('stepq_ws_resyncs_total', 'Resyncs asked of clients.', () => hub.stats.resyncs);
  hubCounter(
    'stepq_ws_skipped_flushes_total',
    'Ticks skipped for a slow client (its socket buffer was full).',
    () => hub.stats.skippedFlushes,
  );
  hubCounter('stepq_ws_clients_closed_total', 'Clients disconnected for flooding the server or not reading.', () => hub.stats.closed);
  return { registry, close: () => offs.forEach((off) => off()) };
}
