import { getRunSnapshot, type RunSnapshot } from '../../api/runs.js';
import type { JobView } from '../../api/jobs.js';
import { ErrorBox } from '../../components/error-box.js';
import { EventsPanel } from '../../components/events-panel.js';
import { CountsText, ProgressBar } from '../../components/progress-bar.js';
import { StatusBadge } from '../../components/status-badge.js';
import { useNow } from '../../components/use-now.js';
import { elapsed, formatCount, formatDuration, formatEta, formatPace, formatRate, formatTime } from '../../format.js';
import { useLiveSnapshot } from '../../live/use-live-snapshot.js';
import { href } from '../../router.js';
import { isTerminalStatus } from '../../status.js';
import { CancelButton, DeleteRunButton, RerunButton, RetryButton } from './run-actions.js';
import { reduceRun } from './run-state.js';

export function RunPage({ runId }: { runId: number }) {
  const snap = useLiveSnapshot<RunSnapshot>({
    topic: `run:${runId}`,
    key: String(runId),
    load: (signal) => getRunSnapshot(runId, signal),
    reduce: reduceRun,
  });
  const run = snap.data?.run;
  const live = run !== undefined && !isTerminalStatus(run.status);
  const now = useNow(live);

  if (snap.data === null) {
    return (
      <div className="page">
        <Breadcrumbs runId={runId} />
        {snap.error !== null ? <ErrorBox error={snap.error} onRetry={snap.reload} /> : <p className="muted">Loading run…</p>}
      </div>
    );
  }
  const { steps } = snap.data;
  const r = snap.data.run;
  const p = r.progress;
  return (
    <div className="page">
      <Breadcrumbs runId={runId} name={r.name} />
      {snap.error !== null && <ErrorBox error={snap.error} onRetry={snap.reload} />}
      <header className="run-head" data-testid="run-head">
        <div className="run-title">
          <h1>{r.name}</h1>
          <StatusBadge status={r.status} />
        </div>
        <div className="actions">
          <CancelButton job={r} />
          <RetryButton job={r} />
          <RerunButton run={r} />
          <DeleteRunButton run={r} />
        </div>
      </header>
      <dl className="facts">
        <div>
          <dt>Definition</dt>
          <dd>{r.run ? <a href={href(`/definitions/${encodeURIComponent(r.run.definitionId)}`)}>{r.run.definitionId}</a> : '—'}</dd>
        </div>
        <div>
          <dt>Run</dt>
          <dd className="num">#{r.id}</dd>
        </div>
        <div>
          <dt>Started</dt>
          <dd className="num">{formatTime(r.startedAt ?? r.createdAt, now)}</dd>
        </div>
        <div>
          <dt>Duration</dt>
          <dd className="num">{formatDuration(elapsed(r.startedAt, r.finishedAt, now))}</dd>
        </div>
        {p?.steps && (
          <div>
            <dt>Steps</dt>
            <dd className="num">
              {formatCount(p.steps.completed)} of {formatCount(p.steps.total)} completed
              {p.steps.failed > 0 ? `, ${formatCount(p.steps.failed)} failed` : ''}
            </dd>
          </div>
        )}
        {r.run && Object.keys(r.run.params).length > 0 && (
          <div className="wide">
            <dt>Params</dt>
            <dd>
              <code className="params">
                {Object.entries(r.run.params)
                  .map(([k, v]) => `${k} = ${JSON.stringify(v)}`)
                  .join(', ')}
              </code>
            </dd>
          </div>
        )}
      </dl>
      {p && (
        <div className="run-progress" data-testid="run-progress">
          <ProgressBar counts={p.counts} />
          <div className="progress-line">
            <CountsText counts={p.counts} testId="run-counts" />
            <span className="muted num">
              {formatPace(
                {
                  ratePerSec: p.ratePerSec,
                  etaMs: p.etaMs,
                  done: p.counts.completed + p.counts.failed + p.counts.cancelled,
                  startedAt: r.startedAt,
                  finishedAt: r.finishedAt,
                  running: !isTerminalStatus(r.status),
                },
                now,
              )}
            </span>
          </div>
        </div>
      )}
      {r.error && (
        <pre className="error-pre" data-testid="run-error">
          {r.error.preview}
        </pre>
      )}
      <h2 className="section-title">Steps</h2>
      <ol className="steps">
        {steps.map((s) => (
          <StepCard key={s.id} step={s} runId={runId} now={now} />
        ))}
      </ol>
      <EventsPanel jobId={runId} title="Events of this run" />
    </div>
  );
}

function Breadcrumbs({ runId, name }: { runId: number; name?: string }) {
  return (
    <nav className="crumbs" aria-label="Breadcrumb">
      <a href={href('/runs')}>Runs</a>
      <span aria-hidden="true">›</span>
      <span aria-current="page">{name ?? `Run #${runId}`}</span>
    </nav>
  );
}

function StepCard({ step, runId, now }: { step: JobView; runId: number; now: number }) {
  const p = step.progress;
  const counts = p?.counts;
  return (
    <li className="step-card" data-testid={`step-${step.id}`} data-step-name={step.name}>
      <div className="step-head">
        <div className="step-title">
          <a className="strong" href={href(`/runs/${runId}/steps/${step.id}`)}>
            {step.name}
          </a>
          <span className="tag">{step.type}</span>
          <StatusBadge status={step.status} />
        </div>
        <div className="actions">
          <a className="btn btn-small" href={href(`/runs/${runId}/steps/${step.id}`)}>
            Jobs
          </a>
          <a className="btn btn-small" href={href(`/runs/${runId}/steps/${step.id}`, { status: 'failed' })}>
            Failed
          </a>
          <CancelButton job={step} small />
          <RetryButton job={step} small />
        </div>
      </div>
      {step.step?.description && <p className="muted small">{step.step.description}</p>}
      {counts && <ProgressBar counts={counts} />}
      <div className="step-facts">
        {counts ? <CountsText counts={counts} testId={`step-counts-${step.id}`} /> : <span className="muted">not planned yet</span>}
        {isTerminalStatus(step.status) ? (
          <span className="num">
            <span className="muted">avg rate</span> {formatRate(averageRate(step, now))}
          </span>
        ) : (
          <>
            <span className="num">
              <span className="muted">rate</span> {formatRate(p?.ratePerSec ?? 0)}
            </span>
            <span className="num">
              <span className="muted">ETA</span> {formatEta(p?.etaMs)}
            </span>
          </>
        )}
        <span className="num">
          <span className="muted">duration</span> {formatDuration(elapsed(step.startedAt, step.finishedAt, now))}
        </span>
        {(step.step?.dependsOn.length ?? 0) > 0 && (
          <span>
            <span className="muted">after</span> {step.step!.dependsOn.join(', ')}
          </span>
        )}
      </div>
      {step.error && <pre className="error-pre small">{step.error.preview}</pre>}
      <EventsPanel jobId={step.id} title="Events" />
    </li>
  );
}

/** Jobs finished per second over the step's whole run (its live rate is 0 once it ended). */
function averageRate(step: JobView, now: number): number {
  const took = elapsed(step.startedAt, step.finishedAt, now);
  const c = step.progress?.counts;
  if (!took || !c) return 0;
  return ((c.completed + c.failed + c.cancelled) * 1000) / took;
}
