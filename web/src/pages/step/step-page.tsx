import { useEffect, useMemo, useState } from 'react';
import { getJob, withProgress, withStatusChange, type JobDetailView } from '../../api/jobs.js';
import { ErrorBox } from '../../components/error-box.js';
import { EventsPanel } from '../../components/events-panel.js';
import { CountsText, ProgressBar } from '../../components/progress-bar.js';
import { StatusBadge } from '../../components/status-badge.js';
import { useNow } from '../../components/use-now.js';
import { formatCount, formatPace } from '../../format.js';
import { live } from '../../live/socket.js';
import { useLiveSnapshot } from '../../live/use-live-snapshot.js';
import { href, setQuery, useLocation } from '../../router.js';
import { countOf, isTerminalStatus, parseStatuses, STATUS_STYLE, STATUSES, type Status } from '../../status.js';
import { JobDetail } from './job-detail.js';
import { PagedJobList } from './paged-list.js';
import { WorkerList } from './worker-list.js';

interface StepState {
  step: JobDetailView;
  runName: string;
}

export function StepPage({ runId, stepId }: { runId: number; stepId: number }) {
  const { query } = useLocation();
  const statuses = useMemo(() => parseStatuses(query.get('status')), [query]);
  const q = query.get('q') ?? '';
  const jobParam = query.get('job');
  const selected = jobParam && /^\d+$/.test(jobParam) ? Number(jobParam) : null;
  const topic = `step:${stepId}`;

  const snap = useLiveSnapshot<StepState>({
    topic,
    key: String(stepId),
    load: async (signal) => {
      const [step, run] = await Promise.all([getJob(stepId, signal), getJob(runId, signal)]);
      return { step, runName: run.name };
    },
    reduce: (s, messages) => {
      let step = s.step;
      for (const m of messages) {
        if (m.type === 'step_progress' && m.payload.step_id === stepId) step = withProgress(step, m.payload);
        else if (m.type === 'job_status_change' && m.payload.job_id === stepId) step = withStatusChange(step, m.payload);
      }
      return step === s.step ? s : { ...s, step };
    },
  });

  const statusKey = statuses.join(',');
  const list = useMemo(() => new PagedJobList({ stepId, statuses: parseStatuses(statusKey), q }), [stepId, statusKey, q]);
  useEffect(() => {
    const unsubscribe = live.subscribe(topic, {
      onMessages(messages) {
        const changes = [];
        for (const m of messages)
          if (m.type === 'job_status_change' && m.payload.step_id === stepId && m.payload.kind === 'worker') changes.push(m.payload);
        list.applyChanges(changes);
      },
      onResync() {
        list.invalidate();
      },
    });
    return () => {
      unsubscribe();
      list.dispose();
    };
  }, [list, topic, stepId]);

  const step = snap.data?.step;
  const counts = step?.progress?.counts ?? null;
  const expected = counts && q === '' ? countOf(counts, statuses) : null;
  useEffect(() => {
    if (step) list.setExpected(expected);
  }, [list, expected, step]);

  // When the step ends, what is on screen is fetched once more, so the list ends exact: a filtered
  // list's membership changed, and rows on screen may have missed their last change where pushes
  // cannot reach them (see ARCHITECTURE.md, "The worker list"). Once per end of the step.
  const terminal = step ? isTerminalStatus(step.status) : null;
  const [wasTerminal, setWasTerminal] = useState<boolean | null>(null);
  useEffect(() => {
    if (terminal === null) return;
    list.live = !terminal;
    if (wasTerminal === false && terminal) list.invalidate();
    setWasTerminal(terminal);
  }, [terminal, wasTerminal, list]);

  const now = useNow(terminal === false);
  const select = (id: number | null): void => setQuery({ job: id }, { push: true });

  return (
    <div className="page page-wide">
      <nav className="crumbs" aria-label="Breadcrumb">
        <a href={href('/runs')}>Runs</a>
        <span aria-hidden="true">›</span>
        <a href={href(`/runs/${runId}`)}>{snap.data?.runName ?? `Run #${runId}`}</a>
        <span aria-hidden="true">›</span>
        <span aria-current="page">{step?.name ?? `Step #${stepId}`}</span>
      </nav>
      {snap.error !== null && <ErrorBox error={snap.error} onRetry={snap.reload} />}
      {step && (
        <header className="step-page-head">
          <div className="run-title">
            <h1>{step.name}</h1>
            <span className="tag">{step.type}</span>
            <StatusBadge status={step.status} />
          </div>
          {counts && (
            <div className="run-progress">
              <ProgressBar counts={counts} />
              <div className="progress-line">
                <CountsText counts={counts} testId="step-counts" />
                <span className="muted num">
                  {formatPace(
                    {
                      ratePerSec: step.progress?.ratePerSec ?? 0,
                      etaMs: step.progress?.etaMs ?? null,
                      done: counts.completed + counts.failed + counts.cancelled,
                      startedAt: step.startedAt,
                      finishedAt: step.finishedAt,
                      running: terminal === false,
                    },
                    now,
                  )}
                </span>
              </div>
            </div>
          )}
        </header>
      )}
      <WorkerFilters statuses={statuses} q={q} counts={counts} />
      <div className={`split${selected !== null ? ' split-open' : ''}`}>
        <div className="split-main">
          {list.error !== null && <ErrorBox error={list.error} onRetry={() => list.invalidate()} />}
          {step && (
            <WorkerList
              list={list}
              topic={topic}
              selected={selected}
              onOpen={(id) => select(id)}
              onClose={() => select(null)}
              now={now}
              noun={`${statuses.map((s) => STATUS_STYLE[s].label.toLowerCase()).join(' or ')}${statuses.length > 0 ? ' ' : ''}jobs`}
              emptySuffix={q ? ` matching “${q}”` : ''}
            />
          )}
        </div>
        {selected !== null && <JobDetail key={selected} jobId={selected} stepId={stepId} onClose={() => select(null)} />}
      </div>
      {step && <EventsPanel jobId={stepId} title="Events of this step" />}
    </div>
  );
}

function WorkerFilters({ statuses, q, counts }: { statuses: Status[]; q: string; counts: { [k in Status]: number } | null }) {
  const [text, setText] = useState(q);
  useEffect(() => setText(q), [q]);
  useEffect(() => {
    if (text === q) return;
    const t = setTimeout(() => setQuery({ q: text }), 300);
    return () => clearTimeout(t);
  }, [text, q]);
  const only = (s: Status | null): void => setQuery({ status: s, job: null }, { push: true });
  return (
    <div className="filters" role="search">
      <div className="chips" role="group" aria-label="Show jobs">
        <button type="button" className="chip" aria-pressed={statuses.length === 0} onClick={() => only(null)} data-testid="filter-all">
          All
        </button>
        {STATUSES.map((s) => (
          <button
            key={s}
            type="button"
            className="chip"
            aria-pressed={statuses.length === 1 && statuses[0] === s}
            onClick={() => only(s)}
            data-testid={`filter-${s}`}
          >
            <span className="dot" style={{ background: STATUS_STYLE[s].color }} aria-hidden="true" />
            {STATUS_STYLE[s].label}
            {counts && <span className="chip-count num">{formatCount(counts[s])}</span>}
          </button>
        ))}
      </div>
      <label className="field grow">
        <span className="sr-only">Search jobs by name</span>
        <input
          type="search"
          placeholder="Search jobs by name"
          value={text}
          onChange={(e) => setText(e.target.value)}
          data-testid="job-search"
        />
      </label>
    </div>
  );
}
