import { ConnectionIndicator } from './components/connection-indicator.js';
import { DefinitionPage } from './pages/definitions/definition-page.js';
import { DefinitionsPage } from './pages/definitions/definitions-page.js';
import { NewDefinitionPage } from './pages/definitions/new-definition-page.js';
import { RunPage } from './pages/run/run-page.js';
import { RunsPage } from './pages/runs/runs-page.js';
import { StepPage } from './pages/step/step-page.js';
import { href, useLocation, type Route } from './router.js';

function Page({ route }: { route: Route }) {
  switch (route.name) {
    case 'runs':
      return <RunsPage />;
    case 'run':
      return <RunPage key={route.runId} runId={route.runId} />;
    case 'step':
      return <StepPage key={route.stepId} runId={route.runId} stepId={route.stepId} />;
    case 'definitions':
      return <DefinitionsPage />;
    case 'definition':
      return <DefinitionPage key={route.definitionId} definitionId={route.definitionId} />;
    case 'new-definition':
      return <NewDefinitionPage />;
    case 'not-found':
      return (
        <div className="page">
          <h1>Not found</h1>
          <p>
            Nothing at <code>{route.path}</code>. <a href={href('/runs')}>Go to the runs</a>.
          </p>
        </div>
      );
  }
}

export function App() {
  const { route } = useLocation();
  const section = route.name === 'definitions' || route.name === 'definition' || route.name === 'new-definition' ? 'definitions' : 'runs';
  return (
    <>
      <button type="button" className="skip" onClick={() => document.getElementById('main')?.focus()}>
        Skip to content
      </button>
      <header className="topbar">
        <a className="brand" href={href('/runs')}>
          stepq
        </a>
        <nav className="nav" aria-label="Main">
          <a href={href('/runs')} aria-current={section === 'runs' ? 'page' : undefined}>
            Runs
          </a>
          <a href={href('/definitions')} aria-current={section === 'definitions' ? 'page' : undefined}>
            Definitions
          </a>
        </nav>
        <ConnectionIndicator />
      </header>
      <main id="main" tabIndex={-1}>
        <Page route={route} />
      </main>
    </>
  );
}
