/**
 * Numbers, times and durations as people read them. A fixed locale keeps figures the same on every
 * machine (and in the browser tests): 10,000 with a comma, times in 24-hour form.
 */
import type { WireCounts } from '../../src/wire/api.js';

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });

export function formatCount(n: number): string {
  return integer.format(n);
}

export function formatRate(perSec: number): string {
  if (!Number.isFinite(perSec) || perSec <= 0) return '—';
  return `${perSec >= 100 ? integer.format(perSec) : decimal.format(perSec)}/s`;
}

/** "N pending, N running, N completed, N failed", plus cancelled when there are any. */
export function formatCounts(c: WireCounts): string {
  const parts = [
    `${formatCount(c.pending)} pending`,
    `${formatCount(c.running)} running`,
    `${formatCount(c.completed)} completed`,
    `${formatCount(c.failed)} failed`,
  ];
  if (c.cancelled > 0) parts.push(`${formatCount(c.cancelled)} cancelled`);
  return parts.join(', ');
}

export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${decimal.format(ms / 1000)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

/** From `start` to `end` (or to now, for something still running). */
export function elapsed(start: number | null, end: number | null, now: number): number | null {
  if (start === null) return null;
  return Math.max(0, (end ?? now) - start);
}

const timeFmt = new Intl.DateTimeFormat('en-GB', {
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hour12: false,
});
const dateTimeFmt = new Intl.DateTimeFormat('en-GB', {
  year: 'numeric',
  month: 'short',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hour12: false,
});

/** Today's times as 14:03:07, older ones with their date. */
export function formatTime(at: number | null | undefined, now: number = Date.now()): string {
  if (at === null || at === undefined) return '—';
  const d = new Date(at);
  const today = new Date(now);
  const sameDay = d.getFullYear() === today.getFullYear() && d.getMonth() === today.getMonth() && d.getDate() === today.getDate();
  return sameDay ? timeFmt.format(d) : dateTimeFmt.format(d);
}

export function formatDateTime(at: number | null | undefined): string {
  if (at === null || at === undefined) return '—';
  return `${dateTimeFmt.format(new Date(at))}.${String(at % 1000).padStart(3, '0')}`;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${integer.format(bytes)} B`;
  if (bytes < 1024 * 1024) return `${decimal.format(bytes / 1024)} KB`;
  return `${decimal.format(bytes / (1024 * 1024))} MB`;
}

export function formatEta(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  return `~${formatDuration(ms)}`;
}

/**
 * The pace of a step or run: its current rate and ETA while it runs; once it ended, how long it took
 * and its average rate over that time.
 */
export function formatPace(
  p: {
    ratePerSec: number;
    etaMs: number | null;
    done: number;
    startedAt: number | null;
    finishedAt: number | null;
    running: boolean;
  },
  now: number,
): string {
  if (p.running) return `${formatRate(p.ratePerSec)} · ETA ${formatEta(p.etaMs)}`;
  const took = elapsed(p.startedAt, p.finishedAt, now);
  if (took === null) return '';
  const avg = took > 0 ? (p.done * 1000) / took : 0;
  return `took ${formatDuration(took)}${avg > 0 ? ` · avg ${formatRate(avg)}` : ''}`;
}
