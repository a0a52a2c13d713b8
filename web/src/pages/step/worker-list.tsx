/**
 * The virtualized worker list (TanStack Virtual). Rows have a fixed height; the scrollbar covers
 * `list.count()` rows (from the step's counts). Browsers cap an element's height (Chrome near 33.5
 * million px, Firefox near 17.9 million), so past MAX_SCROLL_PX the scroll position is scaled: the
 * virtualizer works in "virtual" pixels (row × ROW_HEIGHT) and the scroll element's offset maps to
 * them by `scale`; rows are placed relative to the viewport.
 */
import { elementScroll, observeElementOffset, useVirtualizer } from '@tanstack/react-virtual';
import { useEffect, useMemo, useRef, useSyncExternalStore } from 'react';
import type { JobView } from '../../api/jobs.js';
import { StatusBadge } from '../../components/status-badge.js';
import { elapsed, formatDuration, formatTime } from '../../format.js';
import { live } from '../../live/socket.js';
import type { PagedJobList } from './paged-list.js';

export const ROW_HEIGHT = 36;
const MAX_SCROLL_PX = 8_000_000;

export function WorkerList(props: { list: PagedJobList; topic: string; selected: number | null; onSelect: (id: number) => void; now: number }) {
  const { list, topic, selected, onSelect, now } = props;
  useSyncExternalStore(
    (cb) => list.subscribe(cb),
    () => list.version,
  );
  const parent = useRef<HTMLDivElement>(null);
  const count = list.count();
  const virtualHeight = count * ROW_HEIGHT;
  const scale = virtualHeight > MAX_SCROLL_PX ? virtualHeight / MAX_SCROLL_PX : 1;
  const scaleRef = useRef(scale);
  scaleRef.current = scale;

  const virtualizer = useVirtualizer({
    count,
    getScrollElement: () => parent.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 8,
    observeElementOffset: (instance, cb) => observeElementOffset(instance, (offset, scrolling) => cb(offset * scaleRef.current, scrolling)),
    scrollToFn: (offset, options, instance) =>
      elementScroll(
        offset / scaleRef.current,
        {
          ...options,
          adjustments: (options.adjustments ?? 0) / scaleRef.current,
        },
        instance,
      ),
  });

  const items = virtualizer.getVirtualItems();
  const first = items[0]?.index ?? 0;
  const last = items.at(-1)?.index ?? 0;
  useEffect(() => {
    list.setRange(first, last);
  }, [list, first, last]);

  const ids = useMemo(() => {
    const v = list.idsIn(first, last);
    if (selected !== null && !v.includes(selected)) v.push(selected);
    return v;
    // list.version: the ids change as pages arrive.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [list, list.version, first, last, selected]);
  useEffect(() => {
    live.setView(topic, ids);
  }, [topic, ids]);

  const domOffset = parent.current?.scrollTop ?? 0;
  const virtualOffset = virtualizer.scrollOffset ?? 0;
  const end = list.endIndex();

  return (
    <>
      <div
        ref={parent}
        className="wlist"
        role="grid"
        aria-rowcount={count}
        aria-label="Worker jobs"
        data-testid="worker-list"
        data-count={count}
        tabIndex={-1}
        style={{ height: (Math.max(3, count) * ROW_HEIGHT) / scale + 2 }}
      >
        <div
          style={{
            height: virtualHeight / scale,
            position: 'relative',
            width: '100%',
          }}
        >
          {items.map((item) => {
            const job = list.row(item.index);
            const top = item.start - virtualOffset + domOffset;
            return (
              <div
                key={item.key}
                className="wrow-slot"
                style={{
                  position: 'absolute',
                  top: 0,
                  left: 0,
                  width: '100%',
                  height: ROW_HEIGHT,
                  transform: `translateY(${top}px)`,
                }}
                role="row"
                aria-rowindex={item.index + 1}
              >
                {job ? (
                  <WorkerRow job={job} selected={job.id === selected} onSelect={onSelect} now={now} />
                ) : (
                  <div className="wrow wrow-placeholder" data-testid="row-placeholder">
                    <span className="muted num">{end !== null && item.index >= end ? '' : '…'}</span>
                  </div>
                )}
              </div>
            );
          })}
        </div>
      </div>
    </>
  );
}

function WorkerRow({ job, selected, onSelect, now }: { job: JobView; selected: boolean; onSelect: (id: number) => void; now: number }) {
  return (
    <button
      type="button"
      className="wrow"
      role="gridcell"
      aria-selected={selected}
      onClick={() => onSelect(job.id)}
      data-testid="worker-row"
      data-job-id={job.id}
      data-status={job.status}
    >
      <span className="num muted w-id">#{job.id}</span>
      <span className="w-name">{job.name}</span>
      <StatusBadge status={job.status} />
      <span className="num w-attempt" title="attempt">
        {job.attempt}/{job.maxAttempts}
      </span>
      <span className="num w-time">{formatTime(job.startedAt, now)}</span>
      <span className="num w-dur">{formatDuration(elapsed(job.startedAt, job.finishedAt, now))}</span>
      <span className="w-error" title={job.error?.preview}>
        {job.error?.preview ?? ''}
      </span>
    </button>
  );
}
