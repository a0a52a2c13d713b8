import type { WireCounts } from '../../../src/wire/api.js';
import { formatCount, formatCounts } from '../format.js';
import { BAR_ORDER, STATUS_STYLE } from '../status.js';

/** A bar split by status, in proportion to the counts; its accessible name is the counts text. */
export function ProgressBar({ counts, thin = false }: { counts: WireCounts; thin?: boolean }) {
  const total = Math.max(
    counts.total,
    BAR_ORDER.reduce((s, k) => s + counts[k], 0),
  );
  const done = counts.completed + counts.failed + counts.cancelled;
  return (
    <div
      className={`bar${thin ? ' bar-thin' : ''}`}
      role="progressbar"
      aria-valuemin={0}
      aria-valuemax={total}
      aria-valuenow={done}
      aria-valuetext={formatCounts(counts)}
      title={BAR_ORDER.filter((k) => counts[k] > 0)
        .map((k) => `${STATUS_STYLE[k].label}: ${formatCount(counts[k])}`)
        .join('\n')}
    >
      {total > 0 &&
        BAR_ORDER.map((k) =>
          counts[k] > 0 ? (
            <span
              key={k}
              className={`bar-seg bar-${k}`}
              style={{
                width: `${(counts[k] / total) * 100}%`,
                background: STATUS_STYLE[k].color,
              }}
            />
          ) : null,
        )}
    </div>
  );
}

export function CountsText({ counts, testId }: { counts: WireCounts; testId?: string }) {
  return (
    <span className="counts num" data-testid={testId}>
      {formatCounts(counts)}
    </span>
  );
}
