/**
 * A live tail of log lines for a job, or a step's or run's whole subtree. While open, it loads the
 * newest lines once and then follows `logs:<id>`; closed, it holds no subscription. It keeps at most
 * MAX_LINES in memory (per panel: each step has its own), newest first. Pause freezes what is shown
 * while lines keep arriving (counted, and shown on resume).
 */
import { useId, useMemo, useState } from 'react';
import { LOG_LEVELS, listRecentLogs, type LogLevel, type LogLineView } from '../api/logs.js';
import { mergeLogLines, MAX_LINES, type LogState } from './log-tail.js';
import { formatCount } from '../format.js';
import { useLiveSnapshot } from '../live/use-live-snapshot.js';
import { ErrorBox } from './error-box.js';
import { LongText } from './long-text.js';

const FIRST_LOAD = 200;

export function EventsPanel({ jobId, title, defaultOpen = false }: { jobId: number; title: string; defaultOpen?: boolean }) {
  const [open, setOpen] = useState(defaultOpen);
  const bodyId = useId();
  return (
    <section className={`events${open ? ' events-open' : ''}`} data-testid={`events-${jobId}`}>
      <button type="button" className="events-toggle" aria-expanded={open} aria-controls={bodyId} onClick={() => setOpen(!open)}>
        <span className="chevron" aria-hidden="true">
          {open ? '▾' : '▸'}
        </span>
        {title}
      </button>
      {open && (
        <div id={bodyId}>
          <EventsTail jobId={jobId} />
        </div>
      )}
    </section>
  );
}

function EventsTail({ jobId }: { jobId: number }) {
  const [level, setLevel] = useState<LogLevel>('debug');
  const [frozen, setFrozen] = useState<LogLineView[] | null>(null);
  const snap = useLiveSnapshot<LogState>({
    topic: `logs:${jobId}`,
    key: `${jobId}:${level}`,
    load: async (signal) => {
      const { lines, more } = await listRecentLogs(jobId, { level, limit: FIRST_LOAD }, signal);
      return { lines, dropped: 0, more };
    },
    reduce: (s, m) => mergeLogLines(s, m, level),
  });
  const lines = useMemo(() => snap.data?.lines ?? [], [snap.data]);
  const shown = frozen ?? lines;
  const newWhilePaused = useMemo(() => {
    if (frozen === null) return 0;
    const top = frozen[0]?.id ?? 0;
    return lines.filter((l) => l.id > top).length;
  }, [frozen, lines]);

  return (
    <div className="events-body">
      <div className="events-tools">
        <label>
          Level{' '}
          <select value={level} onChange={(e) => setLevel(e.target.value as LogLevel)}>
            {LOG_LEVELS.map((l) => (
              <option key={l} value={l}>
                {l === 'debug' ? 'all' : `${l} and above`}
              </option>
            ))}
          </select>
        </label>
        <button type="button" className="btn btn-small" aria-pressed={frozen !== null} onClick={() => setFrozen(frozen ? null : lines)}>
          {frozen ? `Resume${newWhilePaused > 0 ? ` (${formatCount(newWhilePaused)} new)` : ''}` : 'Pause'}
        </button>
        <span className="muted num">
          {formatCount(shown.length)} line{shown.length === 1 ? '' : 's'}
          {shown.length >= MAX_LINES ? ` (newest ${formatCount(MAX_LINES)} kept)` : ''}
        </span>
        {(snap.data?.dropped ?? 0) > 0 && <span className="muted">{formatCount(snap.data!.dropped)} lines came too fast to stream</span>}
      </div>
      {snap.error !== null && <ErrorBox error={snap.error} onRetry={snap.reload} />}
      {snap.loading && snap.data === null ? (
        <p className="muted">Loading…</p>
      ) : shown.length === 0 ? (
        <p className="muted">No log lines{level !== 'debug' ? ` at ${level} or above` : ''} yet.</p>
      ) : (
        <ol className="log-lines" aria-label="Log lines, newest first">
          {shown.map((l) => (
            <li key={l.id} className={`log log-${l.level}`}>
              <time className="num" dateTime={new Date(l.at).toISOString()}>
                {formatLogTime(l.at)}
              </time>
              <span className={`lvl lvl-${l.level}`}>{l.level}</span>
              <span className="log-job num" title="job id">
                #{l.jobId}
              </span>
              <LongText className="log-msg" text={l.message} limit={600} />
            </li>
          ))}
        </ol>
      )}
    </div>
  );
}

const logTimeFmt = new Intl.DateTimeFormat('en-GB', {
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hour12: false,
});

function formatLogTime(at: number): string {
  return `${logTimeFmt.format(new Date(at))}.${String(at % 1000).padStart(3, '0')}`;
}
