/**
 * One job: its status, attempts, times, retries, payload/result/error (previews, with the full value
 * on demand) and its log lines. Loaded once; loaded again only when the step topic reports that this
 * job's status changed (its result or error is then new).
 */
import { useEffect, useState } from 'react';
import type { WirePreview } from '../../../../src/wire/api.js';
import { cancelJob, getFullValue, getJob, previewText, retryJob, type FullValue, type JobDetailView } from '../../api/jobs.js';
import { errorText } from '../../api/http.js';
import { ConfirmAction, plural } from '../../components/confirm-action.js';
import { ErrorBox } from '../../components/error-box.js';
import { EventsPanel } from '../../components/events-panel.js';
import { StatusBadge } from '../../components/status-badge.js';
import { elapsed, formatBytes, formatDateTime, formatDuration } from '../../format.js';
import { useLiveSnapshot } from '../../live/use-live-snapshot.js';
import { isTerminalStatus, STATUS_STYLE } from '../../status.js';

export function JobDetail({ jobId, stepId, onClose }: { jobId: number; stepId: number; onClose: () => void }) {
  const snap = useLiveSnapshot<{ job: JobDetailView; changed: boolean }>({
    topic: `step:${stepId}`,
    key: String(jobId),
    load: async (signal) => ({
      job: await getJob(jobId, signal),
      changed: false,
    }),
    reduce: (s, messages) =>
      messages.some((m) => m.type === 'job_status_change' && m.payload.job_id === jobId && m.payload.status !== s.job.status)
        ? { ...s, changed: true }
        : s,
  });
  const changed = snap.data?.changed ?? false;
  const { reload } = snap;
  useEffect(() => {
    if (!changed) return;
    const t = setTimeout(reload, 300);
    return () => clearTimeout(t);
  }, [changed, reload]);

  const job = snap.data?.job;
  return (
    <aside className="detail" aria-label="Job details" data-testid="job-detail">
      <div className="detail-head">
        <h2>{job ? job.name : `Job #${jobId}`}</h2>
        <button type="button" className="btn btn-small" onClick={onClose} aria-label="Close job details">
          ✕
        </button>
      </div>
      {snap.error !== null && <ErrorBox error={snap.error} onRetry={snap.reload} />}
      {!job ? (
        snap.error === null && <p className="muted">Loading…</p>
      ) : (
        <>
          <div className="detail-status">
            <StatusBadge status={job.status} />
            <span className="num muted">
              attempt {job.attempt} of {job.maxAttempts}
            </span>
          </div>
          <div className="actions">
            <ConfirmAction
              label="Cancel job"
              small
              danger
              disabled={isTerminalStatus(job.status)}
              title={`Cancel job #${job.id}?`}
              body={<p>The job and anything it spawned that has not finished are cancelled.</p>}
              confirmLabel="Cancel job"
              run={async () => {
                const n = await cancelJob(job.id);
                return n === 0 ? 'Nothing to cancel: the job had already finished.' : `${plural(n, 'job')} cancelled.`;
              }}
              onDone={snap.reload}
            />
            <ConfirmAction
              label="Retry"
              small
              disabled={job.status !== 'failed'}
              title={`Retry job #${job.id}?`}
              body={<p>The job goes back to pending with one more attempt.</p>}
              confirmLabel="Retry"
              run={async () => {
                const n = await retryJob(job.id);
                return n === 0 ? 'Nothing to retry: the job is no longer failed.' : `${plural(n, 'job')} retried.`;
              }}
              onDone={snap.reload}
            />
          </div>
          <dl className="kv">
            <dt>Id</dt>
            <dd className="num">#{job.id}</dd>
            <dt>Type</dt>
            <dd>{job.type}</dd>
            {job.parentId !== null && job.parentId !== job.stepId && (
              <>
                <dt>Spawned by</dt>
                <dd className="num">#{job.parentId}</dd>
              </>
            )}
            <dt>Created</dt>
            <dd className="num">{formatDateTime(job.createdAt)}</dd>
            <dt>Started</dt>
            <dd className="num">{formatDateTime(job.startedAt)}</dd>
            <dt>Finished</dt>
            <dd className="num">{formatDateTime(job.finishedAt)}</dd>
            <dt>Duration</dt>
            <dd className="num">{formatDuration(elapsed(job.startedAt, job.finishedAt, Date.now()))}</dd>
          </dl>
          {job.retries.length > 0 && (
            <section>
              <h3>Retries</h3>
              <ul className="retries">
                {job.retries.map((r, i) => (
                  <li key={i} className="num">
                    {formatDateTime(r.at)}: attempt {r.attempt} after {STATUS_STYLE[r.fromStatus].label.toLowerCase()}
                  </li>
                ))}
              </ul>
            </section>
          )}
          {job.error && <ValueBlock jobId={job.id} which="error" title="Error" value={job.error} />}
          {job.result && <ValueBlock jobId={job.id} which="result" title="Result" value={job.result} />}
          {job.payload && <ValueBlock jobId={job.id} which="payload" title="Payload" value={job.payload} />}
          <EventsPanel jobId={job.id} title="Log lines" defaultOpen />
        </>
      )}
    </aside>
  );
}

function ValueBlock({ jobId, which, title, value }: { jobId: number; which: FullValue; title: string; value: WirePreview }) {
  const [full, setFull] = useState<string | null>(null);
  const [state, setState] = useState<'idle' | 'loading' | { error: string }>('idle');
  useEffect(() => {
    setFull(null);
    setState('idle');
  }, [jobId, which]);
  const loadFull = async (): Promise<void> => {
    setState('loading');
    try {
      setFull(await getFullValue(jobId, which));
      setState('idle');
    } catch (err) {
      setState({ error: errorText(err) });
    }
  };
  const download = async (): Promise<void> => {
    try {
      const text = full ?? (await getFullValue(jobId, which));
      const url = URL.createObjectURL(
        new Blob([text], {
          type: which === 'error' ? 'text/plain' : 'application/json',
        }),
      );
      const a = document.createElement('a');
      a.href = url;
      a.download = `job-${jobId}-${which}.${which === 'error' ? 'txt' : 'json'}`;
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 1000);
    } catch (err) {
      setState({ error: errorText(err) });
    }
  };
  return (
    <section className="value" data-testid={`value-${which}`}>
      <div className="value-head">
        <h3>{title}</h3>
        <span className="muted small num">{formatBytes(value.bytes)}</span>
        {value.truncated && full === null && (
          <button type="button" className="link-button" onClick={() => void loadFull()} disabled={state === 'loading'}>
            {state === 'loading' ? 'loading…' : 'show all'}
          </button>
        )}
        <button type="button" className="link-button" onClick={() => void download()}>
          download
        </button>
      </div>
      <pre className={which === 'error' ? 'error-pre' : 'code'}>{full ?? (which === 'error' ? value.preview : previewText(value))}</pre>
      {value.truncated && full === null && <p className="muted small">Preview; the full value is {formatBytes(value.bytes)}.</p>}
      {typeof state === 'object' && <p className="error-text">{state.error}</p>}
    </section>
  );
}
