// A failed load or action as the page shows it: the API's message, and a way to sign in where the
// answer was "sign in first" (401) or "not found" to a visitor (a team's pipeline that is not exposed).

import { ApiFailure } from './api.js';
import { token } from './auth.js';
import { Link } from './router.js';

export function ErrorNote({ error }: { error: unknown }) {
  if (error === undefined || error === null) return null;
  const needsLogin =
    error instanceof ApiFailure && (error.status === 401 || (error.status === 404 && !token()));
  const text = error instanceof Error ? error.message : typeof error === 'string' ? error : 'failed';
  return (
    <p className="error" role="alert">
      {text}
      {needsLogin && (
        <>
          {' '}
          <Link to={`/login?redirect=${encodeURIComponent(location.pathname + location.hash)}`}>Sign in</Link>
        </>
      )}
    </p>
  );
}
