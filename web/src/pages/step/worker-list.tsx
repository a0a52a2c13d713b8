/**
 * The virtualized worker list (TanStack Virtual). Rows have a fixed height; the scrollbar covers
 * `list.count()` rows (from the step's counts). Browsers cap an element's height (Chrome near 33.5
 * million px, Firefox near 17.9 million), so past MAX_SCROLL_PX the scroll position is scaled: the
 * virtualizer works in "virtual" pixels (row × ROW_HEIGHT) and the scroll element's offset maps to
 * them by `scale`; rows are placed relative to the viewport.
 *
 * Keyboard: the list is one tab stop (a grid with `aria-activedescendant`, so focus survives rows
 * being recycled as they scroll). Arrow keys, Page Up/Down and Home/End move the active row and
 * scroll it into view; Enter opens its job's details, Escape closes them. A click makes the row
 * active and opens it.
 *
 * While the step runs, a bar above the list counts the jobs that joined it since it loaded ("12 new
 * failed jobs — show"); they are fetched only when the user asks (see paged-list.ts). The grid is
 * keyed by its list: other filters or another search start a new grid at the top, rows rendered,
 * never an old scroll offset over a shorter list.
 */
import { elementScroll, observeElementOffset, useVirtualizer } from '@tanstack/react-virtual';
import { useEffect, useId, useMemo, useRef, useState, useSyncExternalStore, type KeyboardEvent } from 'react';
import type { JobView } from '../../api/jobs.js';
import { StatusBadge } from '../../components/status-badge.js';
import { elapsed, formatCount, formatDuration, formatTime } from '../../format.js';
import { live } from '../../live/socket.js';
import type { PagedJobList } from './paged-list.js';

export const ROW_HEIGHT = 36;
const MAX_SCROLL_PX = 8_000_000;

export interface WorkerListProps {
  list: PagedJobList;
  topic: string;
  /** The job whose details are open. */
  selected: number | null;
  onOpen: (id: number) => void;
  onClose: () => void;
  now: number;
  /** What the list holds, for people: "failed jobs", "jobs" (in "No failed jobs", "12 new failed jobs"). */
  noun: string;
  /** After the noun when the list is empty: ` matching “x”`. */
  emptySuffix?: string;
}

/** Re-renders on every change of the list. */
function useList(list: PagedJobList): void {
  useSyncExternalStore(
    (cb) => list.subscribe(cb),
    () => list.version,
  );
}

/** The column heads, the "new" bar while the step runs, and the grid (or what says it is empty). */
export function WorkerList(props: WorkerListProps) {
  const { list, noun, emptySuffix = '' } = props;
  useList(list);
  const count = list.count();
  const fresh = list.newRows();
  const key = `${list.query.stepId}|${list.query.statuses.join(',')}|${list.query.q}`;
  if (!list.isSized()) return null;
  return (
    <>
      {list.countsNew() && (
        <div className="wlist-bar" data-testid="new-rows-bar">
          {/* One button whether or not there is something to show (aria-disabled, not removed), so
              keyboard focus stays on it after "show" and comes back to life when more jobs join. */}
          <button
            type="button"
            className="link-button new-rows"
            aria-disabled={fresh === 0}
            onClick={() => fresh > 0 && list.showNew()}
            data-testid="show-new"
            data-new={fresh}
          >
            {fresh > 0
              ? `${formatCount(fresh)} new ${fresh === 1 ? noun.replace(/s$/, '') : noun} — show`
              : `No new ${noun} since the list loaded`}
          </button>
        </div>
      )}
      <div className="wlist-head" aria-hidden="true">
        <span className="w-id">Id</span>
        <span className="w-name">Name</span>
        <span className="w-status">Status</span>
        <span className="w-attempt">Try</span>
        <span className="w-time">Started</span>
        <span className="w-dur">Duration</span>
        <span className="w-error">Error</span>
      </div>
      {count === 0 ? (
        <p className="empty muted" data-testid="worker-list-empty">
          No {noun}
          {emptySuffix}
          {fresh > 0 ? ' in the list yet' : ''}.
        </p>
      ) : (
        <WorkerGrid key={key} {...props} />
      )}
    </>
  );
}

function WorkerGrid(props: WorkerListProps) {
  const { list, topic, selected, onOpen, onClose, now } = props;
  useList(list);
  const parent = useRef<HTMLDivElement>(null);
  const idBase = useId();
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

  // The active row (keyboard cursor), by index; a new list (other filters) is a new grid, without one.
  const [active, setActive] = useState<number | null>(null);
  const activeShown = active !== null && active < count && items.some((i) => i.index === active);

  /** Scrolls the least needed to show row `index` whole (rounding so scaling never clips it). */
  const reveal = (index: number): void => {
    const el = parent.current;
    if (!el) return;
    const s = scaleRef.current;
    const top = el.scrollTop * s;
    const rowTop = index * ROW_HEIGHT;
    const rowBottom = rowTop + ROW_HEIGHT;
    if (rowTop < top) el.scrollTop = Math.floor(rowTop / s);
    else if (rowBottom > top + el.clientHeight) el.scrollTop = Math.ceil((rowBottom - el.clientHeight) / s);
  };

  /** The first row wholly on screen. */
  const firstShown = (): number => {
    const el = parent.current;
    const top = el ? el.scrollTop * scaleRef.current : 0;
    return Math.min(Math.max(0, count - 1), Math.ceil(top / ROW_HEIGHT));
  };

  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>): void => {
    if (e.altKey || e.ctrlKey || e.metaKey || count === 0) return;
    const pageRows = Math.max(1, Math.floor((parent.current?.clientHeight ?? ROW_HEIGHT) / ROW_HEIGHT) - 1);
    const from = active !== null && active < count ? active : null;
    let next: number;
    switch (e.key) {
      case 'ArrowDown':
        next = from === null ? firstShown() : from + 1;
        break;
      case 'ArrowUp':
        next = from === null ? firstShown() : from - 1;
        break;
      case 'PageDown':
        next = (from ?? firstShown()) + pageRows;
        break;
      case 'PageUp':
        next = (from ?? firstShown()) - pageRows;
        break;
      case 'Home':
        next = 0;
        break;
      case 'End':
        next = count - 1;
        break;
      case 'Enter': {
        const job = from === null ? undefined : list.row(from);
        if (job) {
          e.preventDefault();
          onOpen(job.id);
        }
        return;
      }
      case 'Escape':
        if (selected !== null) {
          e.preventDefault();
          onClose();
        }
        return;
      default:
        return;
    }
    e.preventDefault();
    next = Math.min(count - 1, Math.max(0, next));
    setActive(next);
    reveal(next);
  };

  // Focus without an active row (Tab into the list): the open job's row if shown, else the first row.
  const onFocus = (): void => {
    if (active !== null && active < count) return;
    const open = selected === null ? -1 : items.findIndex((i) => list.row(i.index)?.id === selected);
    setActive(open >= 0 ? items[open]!.index : firstShown());
  };

  // Rows are placed from the scroll position as it is now, not as the virtualizer last heard it:
  // after a scroll made in code (a key), the two differ until the scroll event arrives.
  const domOffset = parent.current?.scrollTop ?? 0;
  const virtualOffset = domOffset * scale;
  const end = list.endIndex();

  return (
    <div
      ref={parent}
      className="wlist"
      role="grid"
      aria-rowcount={count}
      aria-label="Worker jobs"
      aria-activedescendant={activeShown ? `${idBase}-${active}` : undefined}
      data-testid="worker-list"
      data-count={count}
      data-active={active ?? undefined}
      tabIndex={0}
      onKeyDown={onKeyDown}
      onFocus={onFocus}
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
          const isActive = item.index === active;
          return (
            <div
              key={item.key}
              className={`wrow-slot${isActive ? ' active' : ''}`}
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
              aria-selected={job !== undefined && job.id === selected}
            >
              {job ? (
                <WorkerRow
                  id={`${idBase}-${item.index}`}
                  job={job}
                  onClick={() => {
                    setActive(item.index);
                    onOpen(job.id);
                  }}
                  now={now}
                />
              ) : (
                <div id={`${idBase}-${item.index}`} role="gridcell" className="wrow wrow-placeholder" data-testid="row-placeholder">
                  <span className="muted num">{end !== null && item.index >= end ? '' : '…'}</span>
                </div>
              )}
            </div>
          );
        })}
      </div>
    </div>
  );
}

function WorkerRow({ id, job, onClick, now }: { id: string; job: JobView; onClick: () => void; now: number }) {
  return (
    <div id={id} role="gridcell" className="wrow" onClick={onClick} data-testid="worker-row" data-job-id={job.id} data-status={job.status}>
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
    </div>
  );
}
