/**
 * The one map from job status to what the page shows: label, colour (a CSS custom property defined
 * in styles.css) and the order segments appear in progress bars.
 */
import type { WireCounts, WireJobStatus } from '../../src/wire/api.js';

export const STATUSES = ['pending', 'running', 'completed', 'failed', 'cancelled'] as const satisfies readonly WireJobStatus[];
export type Status = (typeof STATUSES)[number];

export interface StatusStyle {
  label: string;
  /** CSS colour of bars and dots. */
  color: string;
  /** Whether the status is final (only a retry moves a job out of it). */
  terminal: boolean;
}

export const STATUS_STYLE: Record<Status, StatusStyle> = {
  pending: { label: 'Pending', color: 'var(--st-pending)', terminal: false },
  running: { label: 'Running', color: 'var(--st-running)', terminal: false },
  completed: {
    label: 'Completed',
    color: 'var(--st-completed)',
    terminal: true,
  },
  failed: { label: 'Failed', color: 'var(--st-failed)', terminal: true },
  cancelled: {
    label: 'Cancelled',
    color: 'var(--st-cancelled)',
    terminal: true,
  },
};

/** Left to right in a progress bar: what is done first, then what is still to come. */
export const BAR_ORDER: readonly Status[] = ['completed', 'failed', 'cancelled', 'running', 'pending'];

export function isStatus(value: string): value is Status {
  return (STATUSES as readonly string[]).includes(value);
}

export function isTerminalStatus(status: Status): boolean {
  return STATUS_STYLE[status].terminal;
}

export function parseStatuses(value: string | null | undefined): Status[] {
  if (!value) return [];
  return value.split(',').filter(isStatus);
}

/** How many of `counts` have one of `statuses` (all of them when the list is empty). */
export function countOf(counts: WireCounts, statuses: readonly Status[]): number {
  if (statuses.length === 0) return counts.total;
  return statuses.reduce((sum, s) => sum + counts[s], 0);
}
