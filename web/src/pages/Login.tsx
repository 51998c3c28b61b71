// Until users exist, signing in is pasting an API token (`outpost-hub` writes the admin one at first start).

import { useState, type SyntheticEvent } from 'react';
import { api, ApiFailure } from '../api.js';
import { signIn, signOut } from '../auth.js';
import { navigate } from '../router.js';

export function LoginPage() {
  const [secret, setSecret] = useState('');
  const [error, setError] = useState<string>();
  const submit = (e: SyntheticEvent) => {
    e.preventDefault();
    signIn(secret);
    api.info().then(
      () => navigate('/'),
      (err: unknown) => {
        signOut();
        setError(err instanceof ApiFailure ? err.message : String(err));
      },
    );
  };
  return (
    <main className="page login">
      <h1>Sign in to Outpost</h1>
      <form onSubmit={submit}>
        <label>
          API token
          <input
            type="password"
            autoComplete="off"
            value={secret}
            onChange={(e) => setSecret(e.target.value)}
            placeholder="opu_…"
            aria-label="API token"
          />
        </label>
        <button type="submit" disabled={!secret.trim()}>
          Sign in
        </button>
      </form>
      {error && <p className="error">{error}</p>}
      <p className="muted">
        The hub wrote its admin token to <code>admin-token</code> in its data directory at first start.
      </p>
    </main>
  );
}
