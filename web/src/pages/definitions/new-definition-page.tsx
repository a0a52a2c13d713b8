/**
 * Paste or upload a definition (TOML), check it, and save it. Issues come back with line numbers;
 * those lines are highlighted in the numbered copy beside the editor.
 */
import { useState, type ChangeEvent } from 'react';
import { issuesOf, saveDefinition, validateDefinition, type DefinitionIssue } from '../../api/definitions.js';
import { errorText } from '../../api/http.js';
import { IssueList, SourceView } from '../../components/source-view.js';
import { href, navigate } from '../../router.js';

type Check =
  | { state: 'none' }
  | { state: 'busy' }
  | { state: 'valid' }
  | { state: 'invalid'; issues: DefinitionIssue[] }
  | { state: 'error'; message: string };

export function NewDefinitionPage() {
  const [source, setSource] = useState('');
  const [checked, setChecked] = useState<{ source: string; check: Check }>({
    source: '',
    check: { state: 'none' },
  });
  const check = checked.source === source ? checked.check : { state: 'none' as const };

  const onFile = async (e: ChangeEvent<HTMLInputElement>): Promise<void> => {
    const file = e.target.files?.[0];
    if (!file) return;
    setSource(await file.text());
  };

  const validate = async (): Promise<void> => {
    const text = source;
    setChecked({ source: text, check: { state: 'busy' } });
    try {
      const v = await validateDefinition(text);
      setChecked({
        source: text,
        check: v.valid ? { state: 'valid' } : { state: 'invalid', issues: v.issues },
      });
    } catch (err) {
      const issues = issuesOf(err);
      setChecked({
        source: text,
        check: issues.length > 0 ? { state: 'invalid', issues } : { state: 'error', message: errorText(err) },
      });
    }
  };

  const save = async (): Promise<void> => {
    const text = source;
    setChecked({ source: text, check: { state: 'busy' } });
    try {
      const saved = await saveDefinition(text);
      navigate(`/definitions/${encodeURIComponent(saved.id)}`);
    } catch (err) {
      const issues = issuesOf(err);
      setChecked({
        source: text,
        check: issues.length > 0 ? { state: 'invalid', issues } : { state: 'error', message: errorText(err) },
      });
    }
  };

  const issues = check.state === 'invalid' ? check.issues : [];
  return (
    <div className="page">
      <nav className="crumbs" aria-label="Breadcrumb">
        <a href={href('/definitions')}>Definitions</a>
        <span aria-hidden="true">›</span>
        <span aria-current="page">New</span>
      </nav>
      <h1>New definition</h1>
      <p className="muted">Paste a definition in TOML, or open a file. Check it, then save it.</p>
      <div className="editor-tools">
        <label className="btn">
          Open file…
          <input type="file" accept=".toml,text/plain,application/toml" className="sr-only" onChange={(e) => void onFile(e)} />
        </label>
        <button
          type="button"
          className="btn"
          onClick={() => void validate()}
          disabled={source.trim() === '' || check.state === 'busy'}
          data-testid="validate"
        >
          Check
        </button>
        <button
          type="button"
          className="btn btn-primary"
          onClick={() => void save()}
          disabled={source.trim() === '' || check.state === 'busy'}
          data-testid="save"
        >
          Save
        </button>
        <span role="status" className="check-state" data-testid="check-state">
          {check.state === 'busy' && 'Checking…'}
          {check.state === 'valid' && <span className="ok-text">Valid</span>}
          {check.state === 'invalid' && (
            <span className="error-text">
              {issues.length} issue{issues.length === 1 ? '' : 's'}
            </span>
          )}
          {check.state === 'error' && <span className="error-text">{check.message}</span>}
        </span>
      </div>
      <label className="sr-only" htmlFor="def-source">
        Definition source (TOML)
      </label>
      <textarea
        id="def-source"
        className="editor"
        spellCheck={false}
        value={source}
        onChange={(e) => setSource(e.target.value)}
        placeholder={'id = "my-workflow"\nname = "My workflow"\n\n[step.work]\ntype = "synthetic"\ncount = 100'}
        data-testid="definition-editor"
      />
      {issues.length > 0 && (
        <>
          <IssueList issues={issues} idPrefix="new" />
          <SourceView source={source} issues={issues} idPrefix="new" />
        </>
      )}
    </div>
  );
}
