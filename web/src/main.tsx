// The web UI's shell: the top bar and the page for the current path; the sign-in page without a token.

import { StrictMode, type ReactNode } from 'react';
import { createRoot } from 'react-dom/client';
import { signOut, token } from './auth.js';
import { Link, match, navigate, usePath } from './router.js';
import { AgentsPage } from './pages/Agents.js';
import { BuildPage } from './pages/Build.js';
import { Dashboard } from './pages/Dashboard.js';
import { JobPage } from './pages/Job.js';
import { LoginPage } from './pages/Login.js';
import { PipelinePage } from './pages/Pipeline.js';
import './styles.css';

function page(path: string): ReactNode {
  if (!token() || path === '/login') return <LoginPage />;
  let m;
  if ((m = match('/teams/:team/pipelines/:pipeline/jobs/:job', path)))
    return <JobPage team={m.team ?? ''} pipeline={m.pipeline ?? ''} job={m.job ?? ''} />;
  if ((m = match('/teams/:team/pipelines/:pipeline', path)))
    return <PipelinePage team={m.team ?? ''} pipeline={m.pipeline ?? ''} />;
  if ((m = match('/builds/:id', path)) && /^\d+$/.test(m.id ?? '')) return <BuildPage id={Number(m.id)} />;
  if (path === '/agents') return <AgentsPage />;
  if (path === '/' || path === '') return <Dashboard />;
  return (
    <main className="page">
      <p className="error">No page at {path}.</p>
    </main>
  );
}

function App() {
  const path = usePath();
  const signedIn = token() !== null;
  return (
    <>
      <nav className="topbar">
        <Link to="/" className="brand">
          Outpost
        </Link>
        <Link to="/">Pipelines</Link>
        <Link to="/agents">Agents</Link>
        <span className="spacer" />
        {signedIn && (
          <button
            className="link"
            onClick={() => {
              signOut();
              navigate('/login');
            }}
          >
            Sign out
          </button>
        )}
      </nav>
      {/* Keyed by path: a new page starts with fresh state. */}
      <div key={path}>{page(path)}</div>
    </>
  );
}

const root = document.getElementById('root');
if (root)
  createRoot(root).render(
    <StrictMode>
      <App />
    </StrictMode>,
  );
