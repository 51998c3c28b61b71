// The web UI's shell: the top bar (pages, team switcher, who is signed in) and the page for the current
// path. Without a login the pages show what a visitor may see (exposed pipelines) and offer to sign in.

import { StrictMode, useEffect, type ReactNode } from 'react';
import { createRoot } from 'react-dom/client';
import { api } from './api.js';
import { NotFound } from './error-note.js';
import { chooseTeam, signIn, signOut, useSession, type Session } from './auth.js';
import { usePoll } from './poll.js';
import { Link, match, navigate, usePath } from './router.js';
import { AgentsPage } from './pages/Agents.js';
import { BuildPage } from './pages/Build.js';
import { Dashboard } from './pages/Dashboard.js';
import { JobPage } from './pages/Job.js';
import { LoginCallbackPage, LoginPage } from './pages/Login.js';
import { PipelinePage } from './pages/Pipeline.js';
import { ResourcePage } from './pages/Resource.js';
import { keyOfLocation } from './pipeline-key.js';
import './styles.css';

function page(path: string): ReactNode {
  if (path === '/login') return <LoginPage />;
  if (path === '/login/callback') return <LoginCallbackPage />;
  let m;
  if ((m = match('/teams/:team/pipelines/:pipeline/jobs/:job', path)))
    return (
      <JobPage
        team={m.team ?? ''}
        pipeline={keyOfLocation(m.pipeline ?? '', location.search)}
        job={m.job ?? ''}
      />
    );
  if ((m = match('/teams/:team/pipelines/:pipeline/resources/:resource', path)))
    return (
      <ResourcePage
        team={m.team ?? ''}
        pipeline={keyOfLocation(m.pipeline ?? '', location.search)}
        resource={m.resource ?? ''}
      />
    );
  if ((m = match('/teams/:team/pipelines/:pipeline', path)))
    return <PipelinePage team={m.team ?? ''} pipeline={keyOfLocation(m.pipeline ?? '', location.search)} />;
  if ((m = match('/builds/:id', path)) && /^\d+$/.test(m.id ?? '')) return <BuildPage id={Number(m.id)} />;
  if (path === '/agents') return <AgentsPage />;
  if (path === '/' || path === '') return <Dashboard />;
  return <NotFound error={`No page at ${path}.`} />;
}

/** Renews a login token when half its life has passed (as the CLI does), so an open page stays signed in. */
function useRenewal(s: Session | null) {
  useEffect(() => {
    if (!s?.user || s.expiresAt === null) return;
    const wait = Math.max(1000, (s.expiresAt - Date.now()) / 2);
    const timer = setTimeout(() => {
      api.renew().then(
        (r) => signIn({ token: r.token, user: r.user, expiresAt: r.expiresAt }),
        () => undefined,
      );
    }, wait);
    return () => clearTimeout(timer);
  }, [s?.token, s?.user, s?.expiresAt]);
}

function TeamSwitcher({ team, signedIn }: { team: string; signedIn: boolean }) {
  const { data } = usePoll(() => (signedIn ? api.teams() : Promise.resolve([])), [signedIn], 30_000);
  if (!data || data.length < 1) return null;
  return (
    <select aria-label="team" value={team} onChange={(e) => chooseTeam(e.target.value)}>
      <option value="">all teams</option>
      {data.map((t) => (
        <option key={t.name} value={t.name}>
          {t.name}
        </option>
      ))}
    </select>
  );
}

function App() {
  const path = usePath();
  const { session, team } = useSession();
  useRenewal(session);
  return (
    <>
      <nav className="topbar" aria-label="main">
        <Link to="/" className="brand">
          Outpost
        </Link>
        <Link to="/">Pipelines</Link>
        <Link to="/agents">Agents</Link>
        <span className="spacer" />
        <TeamSwitcher team={team} signedIn={session !== null} />
        {session ? (
          <>
            <span className="muted" aria-label="signed in as">
              {session.user ?? 'API token'}
            </span>
            <button
              className="link"
              onClick={() => {
                signOut();
                navigate('/');
              }}
            >
              Sign out
            </button>
          </>
        ) : (
          path !== '/login' && <Link to={`/login?redirect=${encodeURIComponent(path)}`}>Sign in</Link>
        )}
      </nav>
      {/* Keyed by path, viewer and team: a new page, or the same seen by someone else, starts afresh (a
          renewed token is the same viewer). */}
      <div key={`${path} ${session ? (session.user ?? '(token)') : ''} ${team}`}>{page(path)}</div>
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
