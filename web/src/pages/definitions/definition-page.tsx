import { useEffect, useState } from 'react';
import { deleteDefinition, getDefinition, type DefinitionDetailView } from '../../api/definitions.js';
import { isAbort } from '../../api/http.js';
import { ConfirmAction } from '../../components/confirm-action.js';
import { ErrorBox } from '../../components/error-box.js';
import { IssueList, SourceView } from '../../components/source-view.js';
import { formatDateTime } from '../../format.js';
import { href, navigate } from '../../router.js';
import { ParamsForm } from './params-form.js';

export function DefinitionPage({ definitionId }: { definitionId: string }) {
  const [def, setDef] = useState<DefinitionDetailView | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [attempt, setAttempt] = useState(0);
  useEffect(() => {
    const ctrl = new AbortController();
    setDef(null);
    getDefinition(definitionId, ctrl.signal).then(
      (d) => {
        setDef(d);
        setError(null);
      },
      (err) => !isAbort(err) && setError(err),
    );
    return () => ctrl.abort();
  }, [definitionId, attempt]);

  return (
    <div className="page">
      <nav className="crumbs" aria-label="Breadcrumb">
        <a href={href('/definitions')}>Definitions</a>
        <span aria-hidden="true">›</span>
        <span aria-current="page">{def?.name ?? definitionId}</span>
      </nav>
      {error !== null && <ErrorBox error={error} onRetry={() => setAttempt(attempt + 1)} />}
      {def === null ? (
        error === null && <p className="muted">Loading…</p>
      ) : (
        <>
          <header className="run-head">
            <div className="run-title">
              <h1>{def.name}</h1>
              {def.valid ? <span className="badge badge-completed">Valid</span> : <span className="badge badge-failed">Invalid</span>}
            </div>
            <div className="actions">
              <a className="btn" href={href('/runs', { definition: def.id })}>
                Its runs
              </a>
              <ConfirmAction
                label="Delete"
                danger
                title={`Delete definition “${def.id}”?`}
                body={<p>The definition is removed. Its past runs stay.</p>}
                confirmLabel="Delete"
                run={async () => {
                  await deleteDefinition(def.id);
                  return `Definition “${def.id}” deleted.`;
                }}
                onDone={() => navigate('/definitions')}
              />
            </div>
          </header>
          <dl className="facts">
            <div>
              <dt>Id</dt>
              <dd>
                <code>{def.id}</code>
              </dd>
            </div>
            {def.file && (
              <div>
                <dt>File</dt>
                <dd>
                  <code>{def.file}</code>
                </dd>
              </div>
            )}
            <div>
              <dt>Updated</dt>
              <dd className="num">{formatDateTime(def.updated_at)}</dd>
            </div>
            {def.schedule && (
              <div>
                <dt>Schedule</dt>
                <dd>
                  <code>{def.schedule}</code> {def.enabled ? '' : '(disabled)'}
                </dd>
              </div>
            )}
          </dl>
          {def.description && <p>{def.description}</p>}
          {def.steps.length > 0 && (
            <>
              <h2 className="section-title">Steps</h2>
              <ol className="def-steps">
                {def.steps.map((s) => (
                  <li key={s.name}>
                    <strong>{s.name}</strong> <span className="tag">{s.type}</span>
                    {s.depends_on.length > 0 && <span className="muted small"> after {s.depends_on.join(', ')}</span>}
                    {s.description && <span className="small"> — {s.description}</span>}
                  </li>
                ))}
              </ol>
            </>
          )}
          <h2 className="section-title">Run it</h2>
          <ParamsForm definition={def} />
          {def.issues.length > 0 && (
            <>
              <h2 className="section-title">Issues</h2>
              <IssueList issues={def.issues} idPrefix="def" />
            </>
          )}
          <h2 className="section-title">Source</h2>
          <SourceView source={def.source} issues={def.issues} idPrefix="def" />
        </>
      )}
    </div>
  );
}
