import { useEffect, useMemo, useRef, useState } from 'react';
import { listDefinitions, type DefinitionView } from '../../api/definitions.js';
import { errorText } from '../../api/http.js';
import { listRuns, type RunsFilter } from '../../api/runs.js';
import { getStats, type StatsView } from '../../api/stats.js';
import { ErrorBox } from '../../components/error-box.js';
import { CountsText, ProgressBar } from '../../components/progress-bar.js';
import { StatusBadge } from '../../components/status-badge.js';
import { useNow } from '../../components/use-now.js';
import { elapsed, formatCount, formatDuration, formatTime } from '../../format.js';
import { useLiveSnapshot } from '../../live/use-live-snapshot.js';
import { href, setQuery, useLocation } from '../../router.js';
import { parseStatuses, STATUS_STYLE, STATUSES, type Status } from '../../status.js';
import { appendPage, HEAD_REFRESH_MS, initialRuns, mergeHead, reduceRuns, sameFilter, type RunItem, type RunsState } from './runs-state.js';

export function RunsPage() {
  const { query } = useLocation();
  const filter: RunsFilter = useMemo(
    () => ({
      statuses: parseStatuses(query.get('status')),
      definitionId: query.get('definition') ?? '',
      q: query.get('q') ?? '',
    }),
    [query],
  );
  const filterKey = `${filter.statuses.join(',')}|${filter.definitionId}|${filter.q}`;

  const runs = useLiveSnapshot<RunsState>({
    topic: 'runs',
    key: filterKey,
    load: async (signal) => {
      const page = await listRuns(filter, null, signal);
      return initialRuns(filter, page.data, page.nextCursor);
    },
    reduce: reduceRuns,
  });

  useHeadRefresh(runs.data?.newerSeen ?? false, filter, runs.mutate);

  const [moreError, setMoreError] = useState<unknown>(null);
  const [loadingMore, setLoadingMore] = useState(false);
  const loadMore = async (): Promise<void> => {
    const cursor = runs.data?.nextCursor;
    if (!cursor || loadingMore) return;
    setLoadingMore(true);
    setMoreError(null);
    try {
      const page = await listRuns(filter, cursor);
      // The filters may have changed while the page loaded: it then belongs to a list no longer shown.
      runs.mutate((s) => (sameFilter(s.filter, filter) ? appendPage(s, page.data, page.nextCursor) : s));
    } catch (err) {
      setMoreError(err);
    } finally {
      setLoadingMore(false);
    }
  };

  const anyRunning = (runs.data?.runs ?? []).some((r) => r.status === 'running' || r.status === 'pending');
  const now = useNow(anyRunning);

  return (
    <div className="page">
      <div className="page-head">
        <h1>Runs</h1>
        <a className="btn btn-primary" href={href('/definitions')}>
          Start a run…
        </a>
      </div>
      <StatsBar />
      <RunsFilterBar filter={filter} />
      {runs.error !== null && <ErrorBox error={runs.error} onRetry={runs.reload} />}
      {runs.data === null && runs.loading ? (
        <p className="muted">Loading runs…</p>
      ) : runs.data && runs.data.runs.length === 0 ? (
        <div className="empty">
          <p>
            No runs
            {filter.statuses.length || filter.definitionId || filter.q ? ' match these filters' : ' yet'}.
          </p>
          <a href={href('/definitions')}>Run a definition</a>
        </div>
      ) : (
        <div className="table runs-table" role="table" aria-label="Runs">
          <div className="tr th" role="row">
            <span role="columnheader">Status</span>
            <span role="columnheader">Run</span>
            <span role="columnheader">Progress</span>
            <span role="columnheader">Started</span>
            <span role="columnheader" className="right">
              Duration
            </span>
          </div>
          {(runs.data?.runs ?? []).map((r) => (
            <RunRow key={r.id} run={r} now={now} />
          ))}
        </div>
      )}
      {runs.data?.nextCursor && (
        <div className="load-more">
          <button type="button" className="btn" onClick={() => void loadMore()} disabled={loadingMore} data-testid="load-more">
            {loadingMore ? 'Loading…' : 'Load more runs'}
          </button>
          {moreError !== null && <span className="error-text">{errorText(moreError)}</span>}
        </div>
      )}
    </div>
  );
}

/**
 * Reloads the first page when pushes name a newer run the list could not place itself (see
 * runs-state.ts), at most every HEAD_REFRESH_MS.
 */
function useHeadRefresh(newerSeen: boolean, filter: RunsFilter, mutate: (fn: (s: RunsState) => RunsState) => void): void {
  const last = useRef(0);
  useEffect(() => {
    if (!newerSeen) return;
    const ctrl = new AbortController();
    const wait = Math.max(0, last.current + HEAD_REFRESH_MS - Date.now());
    const t = setTimeout(() => {
      last.current = Date.now();
      listRuns(filter, null, ctrl.signal).then(
        (page) => mutate((s) => mergeHead(s, page.data)),
        () => mutate((s) => mergeHead(s, [])),
      );
    }, wait);
    return () => {
      clearTimeout(t);
      ctrl.abort();
    };
  }, [newerSeen, filter, mutate]);
}

function RunRow({ run, now }: { run: RunItem; now: number }) {
  const counts = run.progress?.counts;
  const link = href(`/runs/${run.id}`);
  return (
    <div className="tr" role="row" data-testid={`run-row-${run.id}`}>
      <span role="cell">
        <StatusBadge status={run.status} />
      </span>
      <span role="cell" className="cell-name">
        <a href={link} className="strong">
          {run.name}
        </a>
        <span className="muted small">
          {run.definitionId ?? 'run'} · #{run.id}
        </span>
      </span>
      <span role="cell" className="cell-progress">
        {counts ? (
          <>
            <ProgressBar counts={counts} />
            <CountsText counts={counts} />
          </>
        ) : (
          <span className="muted">—</span>
        )}
      </span>
      <span role="cell" className="num" title={run.startedAt ? new Date(run.startedAt).toISOString() : undefined}>
        <span className="label-narrow">Started </span>
        {formatTime(run.startedAt ?? run.createdAt, now)}
      </span>
      <span role="cell" className="num right">
        <span className="label-narrow">Duration </span>
        {formatDuration(elapsed(run.startedAt, run.finishedAt, now))}
      </span>
    </div>
  );
}

function StatsBar() {
  const stats = useLiveSnapshot<StatsView>({
    topic: 'runs',
    key: 'stats',
    load: getStats,
    reduce: (s, messages) => {
      let next = s;
      for (const m of messages) if (m.type === 'stats') next = { runs: m.payload.runs };
      return next;
    },
  });
  const c = stats.data?.runs;
  return (
    <div className="stats" aria-label="Runs by status" data-testid="stats">
      {(['running', 'pending', 'completed', 'failed', 'cancelled'] as const).map((s) => (
        <a key={s} className="stat" href={href('/runs', { status: s })}>
          <span className="stat-value num">{c ? formatCount(c[s]) : '—'}</span>
          <span className="stat-label">
            <span className="dot" style={{ background: STATUS_STYLE[s].color }} aria-hidden="true" />
            {STATUS_STYLE[s].label}
          </span>
        </a>
      ))}
      <a className="stat" href={href('/runs')}>
        <span className="stat-value num">{c ? formatCount(c.total) : '—'}</span>
        <span className="stat-label">All runs</span>
      </a>
    </div>
  );
}

function RunsFilterBar({ filter }: { filter: RunsFilter }) {
  const [defs, setDefs] = useState<DefinitionView[] | null>(null);
  useEffect(() => {
    const ctrl = new AbortController();
    listDefinitions(ctrl.signal).then(setDefs, () => setDefs([]));
    return () => ctrl.abort();
  }, []);
  const [text, setText] = useState(filter.q);
  useEffect(() => setText(filter.q), [filter.q]);
  useEffect(() => {
    if (text === filter.q) return;
    const t = setTimeout(() => setQuery({ q: text }), 300);
    return () => clearTimeout(t);
  }, [text, filter.q]);

  const toggle = (s: Status): void => {
    const next = filter.statuses.includes(s) ? filter.statuses.filter((x) => x !== s) : [...filter.statuses, s];
    setQuery({ status: next.join(',') }, { push: true });
  };

  return (
    <div className="filters" role="search">
      <div className="chips" role="group" aria-label="Status">
        {STATUSES.map((s) => (
          <button key={s} type="button" className="chip" aria-pressed={filter.statuses.includes(s)} onClick={() => toggle(s)}>
            <span className="dot" style={{ background: STATUS_STYLE[s].color }} aria-hidden="true" />
            {STATUS_STYLE[s].label}
          </button>
        ))}
      </div>
      <label className="field">
        <span className="sr-only">Definition</span>
        <select value={filter.definitionId} onChange={(e) => setQuery({ definition: e.target.value }, { push: true })}>
          <option value="">All definitions</option>
          {(defs ?? []).map((d) => (
            <option key={d.id} value={d.id}>
              {d.name === d.id ? d.id : `${d.name} (${d.id})`}
            </option>
          ))}
          {filter.definitionId && defs && !defs.some((d) => d.id === filter.definitionId) && (
            <option value={filter.definitionId}>{filter.definitionId}</option>
          )}
        </select>
      </label>
      <label className="field grow">
        <span className="sr-only">Search runs</span>
        <input type="search" placeholder="Search runs by name" value={text} onChange={(e) => setText(e.target.value)} />
      </label>
    </div>
  );
}
