import { useEffect, useState } from 'react';
import { listDefinitions, type DefinitionView } from '../../api/definitions.js';
import { isAbort } from '../../api/http.js';
import { ErrorBox } from '../../components/error-box.js';
import { formatTime } from '../../format.js';
import { href } from '../../router.js';
import { formatStages } from './stages.js';

export function DefinitionsPage() {
  const [defs, setDefs] = useState<DefinitionView[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [attempt, setAttempt] = useState(0);
  useEffect(() => {
    const ctrl = new AbortController();
    listDefinitions(ctrl.signal).then(
      (d) => {
        setDefs(d);
        setError(null);
      },
      (err) => !isAbort(err) && setError(err),
    );
    return () => ctrl.abort();
  }, [attempt]);

  return (
    <div className="page">
      <div className="page-head">
        <h1>Definitions</h1>
        <a className="btn btn-primary" href={href('/definitions/new')}>
          New definition…
        </a>
      </div>
      {error !== null && <ErrorBox error={error} onRetry={() => setAttempt(attempt + 1)} />}
      {defs === null ? (
        error === null && <p className="muted">Loading definitions…</p>
      ) : defs.length === 0 ? (
        <div className="empty">
          <p>No definitions yet.</p>
          <a href={href('/definitions/new')}>Add one</a>
        </div>
      ) : (
        <div className="table defs-table" role="table" aria-label="Definitions">
          <div className="tr th" role="row">
            <span role="columnheader">Definition</span>
            <span role="columnheader">Steps</span>
            <span role="columnheader">Schedule</span>
            <span role="columnheader">Validity</span>
            <span role="columnheader">Updated</span>
          </div>
          {defs.map((d) => (
            <div className="tr" role="row" key={d.id} data-testid={`def-row-${d.id}`}>
              <span role="cell" className="cell-name">
                <a className="strong" href={href(`/definitions/${encodeURIComponent(d.id)}`)}>
                  {d.name}
                </a>
                <span className="muted small">
                  {d.id}
                  {d.tags.length > 0 && ` · ${d.tags.join(', ')}`}
                </span>
                {d.description && <span className="small">{d.description}</span>}
              </span>
              <span
                role="cell"
                className="small def-stages"
                title={d.steps.map((s) => `${s.name}: ${s.type}`).join('\n')}
                data-testid="def-stages"
              >
                {formatStages(d.steps) || '—'}
              </span>
              <span role="cell" className="small num">
                {d.schedule ? `${d.schedule}${d.enabled ? '' : ' (off)'}` : '—'}
              </span>
              <span role="cell">
                {d.valid ? (
                  <span className="badge badge-completed">Valid</span>
                ) : (
                  <span className="badge badge-failed" title={d.issues.map((i) => i.message).join('\n')}>
                    {d.issues.length} issue{d.issues.length === 1 ? '' : 's'}
                  </span>
                )}
              </span>
              <span role="cell" className="small num">
                {formatTime(d.updated_at)}
              </span>
            </div>
          ))}
        </div>
      )}
    </div>
  );
}
