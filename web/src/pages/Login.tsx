// Signing in: a local user's name, password and team (POST /auth/token), the hub's OIDC provider when it
// has one, or a pasted API token. `/login/callback` takes the token an OIDC login hands back.

import { useEffect, useState, type SyntheticEvent } from 'react';
import { API_PREFIX } from '../../../hub/api/types.js';
import { api, ApiFailure, type LoginMethods } from '../api.js';
import { chooseTeam, safeRedirect, signIn, signOut } from '../auth.js';
import { navigate } from '../router.js';

const message = (err: unknown) => (err instanceof ApiFailure ? err.message : String(err));
const redirectParam = () => safeRedirect(new URLSearchParams(location.search).get('redirect'));

export function LoginPage() {
  const [methods, setMethods] = useState<LoginMethods>({ local: true, oidc: null });
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  // Optional, as in Concourse: a user signs in once and sees every team of theirs.
  const [team, setTeam] = useState('');
  const [secret, setSecret] = useState('');
  const [error, setError] = useState<string>();

  useEffect(() => {
    // /info needs no login and says which ways in the hub offers; if it fails, the form alone is shown.
    api.info().then(
      (info) => setMethods(info.auth),
      () => undefined,
    );
  }, []);

  const done = (teamName: string) => {
    chooseTeam(teamName);
    navigate(redirectParam());
  };
  const passwordLogin = (e: SyntheticEvent) => {
    e.preventDefault();
    setError(undefined);
    api.login(username.trim(), password, team.trim()).then(
      (r) => {
        signIn({ token: r.token, user: r.user, expiresAt: r.expiresAt });
        done(team.trim());
      },
      (err: unknown) => setError(message(err)),
    );
  };
  const tokenLogin = (e: SyntheticEvent) => {
    e.preventDefault();
    setError(undefined);
    signIn({ token: secret, user: null, expiresAt: null });
    api.info().then(
      () => done(''),
      (err: unknown) => {
        signOut();
        setError(message(err));
      },
    );
  };
  const oidcHref = `${API_PREFIX}/auth/oidc/login?team=${encodeURIComponent(team.trim() || 'main')}&redirect=${encodeURIComponent(redirectParam())}`;

  return (
    <main className="page login">
      <h1>Sign in to Outpost</h1>
      {methods.local && (
        <form onSubmit={passwordLogin} aria-label="sign in with a password">
          <label>
            Username
            <input autoComplete="username" value={username} onChange={(e) => setUsername(e.target.value)} />
          </label>
          <label>
            Password
            <input
              type="password"
              autoComplete="current-password"
              value={password}
              onChange={(e) => setPassword(e.target.value)}
            />
          </label>
          <label>
            Team
            <input value={team} placeholder="any of yours" onChange={(e) => setTeam(e.target.value)} />
          </label>
          <button type="submit" disabled={!username.trim() || !password}>
            Sign in
          </button>
        </form>
      )}
      {methods.oidc && (
        <p>
          {/* A full page load: the hub answers with a redirect to the provider. */}
          <a className="button" href={oidcHref}>
            Sign in with {methods.oidc.name}
          </a>
        </p>
      )}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <details>
        <summary>Use an API token instead</summary>
        <form onSubmit={tokenLogin} aria-label="sign in with an API token">
          <label>
            API token
            <input
              type="password"
              autoComplete="off"
              value={secret}
              onChange={(e) => setSecret(e.target.value)}
              placeholder="opu_…"
            />
          </label>
          <button type="submit" disabled={!secret.trim()}>
            Use token
          </button>
        </form>
        <p className="muted">
          The hub wrote its admin token to <code>admin-token</code> in its data directory at first start.
        </p>
      </details>
    </main>
  );
}

/**
 * Where an OIDC login lands: `#token=…&expiresAt=…&redirect=…` (a fragment, so the token never reaches a
 * server log). The token is kept as a password login's is, and the fragment leaves the address bar.
 */
export function LoginCallbackPage() {
  const [error, setError] = useState<string>();
  useEffect(() => {
    const at = new URLSearchParams(location.hash.slice(1));
    const secret = at.get('token');
    const expiresAt = Number(at.get('expiresAt'));
    history.replaceState(null, '', location.pathname);
    if (!secret || !Number.isFinite(expiresAt) || expiresAt <= Date.now()) {
      setError('The sign-in answer carried no valid token; sign in again.');
      return;
    }
    signIn({ token: secret, user: null, expiresAt });
    // The name comes from the hub, not from the fragment.
    api.user().then(
      (u) => {
        signIn({ token: secret, user: u.name, expiresAt });
        navigate(safeRedirect(at.get('redirect')));
      },
      (err: unknown) => setError(message(err)),
    );
  }, []);
  return (
    <main className="page login">
      <h1>Signing in…</h1>
      {error && (
        <p className="error" role="alert">
          {error} <a href="/login">Sign in</a>
        </p>
      )}
    </main>
  );
}
