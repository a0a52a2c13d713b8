/** Small text formatters for terminal output. */
import type { Counts } from '../core/progress.js';

export function formatMs(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return '—';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)}s`;
  const m = Math.floor(s / 60);
  const rest = Math.round(s % 60);
  if (m < 60) return `${m}m${rest ? `${rest}s` : ''}`;
  return `${Math.floor(m / 60)}h${m % 60 ? `${m % 60}m` : ''}`;
}

export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

/** One line of counts: "120/500 done · 110 completed · 5 failed · 3 running · 372 pending". */
export function countsLine(c: Counts): string {
  const done = c.completed + c.failed + c.cancelled;
  const parts = [`${formatCount(done)}/${formatCount(c.total)} done`, `${formatCount(c.completed)} completed`];
  if (c.failed) parts.push(`${formatCount(c.failed)} failed`);
  if (c.cancelled) parts.push(`${formatCount(c.cancelled)} cancelled`);
  if (c.running) parts.push(`${formatCount(c.running)} running`);
  if (c.pending) parts.push(`${formatCount(c.pending)} pending`);
  return parts.join(' · ');
}

/** Control characters out of job text before it reaches a terminal (no escape-sequence tricks). */
export function safeText(text: string, max = 300): string {
  const clean = text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, '�').replace(/\n/g, ' ⏎ ');
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}

/**
 * The commands that run a store's queued runs, for messages: `stepq worker` refuses SQLite stores
 * (they belong to one process), so it is named for PostgreSQL ones only.
 */
export function storeRunners(store: { capabilities: { multiProcess: boolean } }): string {
  return store.capabilities.multiProcess ? '`stepq serve` or `stepq worker`' : '`stepq serve`';
}
