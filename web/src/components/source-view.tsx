/**
 * A definition's TOML as numbered lines, lines with issues highlighted (and described on hover), as
 * text only. `id` prefixes the line anchors so the issue list can link to a line.
 */
import type { DefinitionIssue } from '../api/definitions.js';

export function SourceView({ source, issues, idPrefix }: { source: string; issues: DefinitionIssue[]; idPrefix: string }) {
  const byLine = new Map<number, string[]>();
  for (const i of issues) {
    if (i.line === undefined) continue;
    const list = byLine.get(i.line) ?? [];
    list.push(i.message);
    byLine.set(i.line, list);
  }
  const lines = source.split('\n');
  return (
    <pre className="source" aria-label="Definition source" data-testid="definition-source">
      {lines.map((text, idx) => {
        const n = idx + 1;
        const problems = byLine.get(n);
        return (
          <span
            key={n}
            id={`${idPrefix}-L${n}`}
            className={`src-line${problems ? ' src-issue' : ''}`}
            title={problems?.join('\n')}
            data-line={n}
            data-issue={problems ? 'true' : undefined}
          >
            <span className="src-n" aria-hidden="true">
              {n}
            </span>
            <span className="src-t">{text === '' ? ' ' : text}</span>
            {'\n'}
          </span>
        );
      })}
    </pre>
  );
}

export function IssueList({ issues, idPrefix }: { issues: DefinitionIssue[]; idPrefix?: string }) {
  if (issues.length === 0) return null;
  return (
    <ul className="issues" data-testid="issues">
      {issues.map((i, k) => (
        <li key={k}>
          {i.line !== undefined && idPrefix ? (
            <button
              type="button"
              className="link-button num"
              onClick={() => document.getElementById(`${idPrefix}-L${i.line}`)?.scrollIntoView({ block: 'center', behavior: 'smooth' })}
            >
              line {i.line}
              {i.column !== undefined ? `:${i.column}` : ''}
            </button>
          ) : i.line !== undefined ? (
            <span className="num">
              line {i.line}
              {i.column !== undefined ? `:${i.column}` : ''}
            </span>
          ) : null}
          {i.path && <code className="issue-path">{i.path}</code>}
          <span>{i.message}</span>
        </li>
      ))}
    </ul>
  );
}
