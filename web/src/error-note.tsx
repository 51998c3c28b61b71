// A failed load or action as the page shows it: the API's message, and a way to sign in where the
// answer was "sign in first" (401) or "not found" to a visitor (a team's pipeline that is not exposed).
// A page whose subject does not exist (a deep link to a deleted pipeline, a mistyped build number)
// shows only that, as Concourse's 404 page does, not the controls of a thing that is not there.

import { ApiFailure } from './api.js';
import { token } from './auth.js';
import { Link } from './router.js';

export function ErrorNote({ error }: { error: unknown }) {
  if (error === undefined || error === null) return null;
  const needsLogin =
    error instanceof ApiFailure && (error.status === 401 || (error.status === 404 && !token()));
  // The API's 401 message speaks to the CLI (`outpost login`); the page offers its own way in.
  const text =
    error instanceof ApiFailure && error.status === 401
      ? 'You are not signed in, or your sign-in has ended.'
      : error instanceof Error
        ? error.message
        : typeof error === 'string'
          ? error
          : 'failed';
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

/**
 * The API answered that the page's subject (pipeline, job, resource, build) does not exist (404), or
 * not for this viewer (401: signed out, or the sign-in ended).
 */
export function isNotFound(error: unknown): boolean {
  return error instanceof ApiFailure && (error.status === 404 || error.status === 401);
}

/** The whole page for a path that names nothing: what is missing, and the way back. */
export function NotFound({ error }: { error: unknown }) {
  const signIn = error instanceof ApiFailure && error.status === 401;
  return (
    <main className="page not-found">
      <h1>{signIn ? 'Sign in to see this page' : 'Not found'}</h1>
      {typeof error === 'string' ? (
        <p className="error" role="alert">
          {error}
        </p>
      ) : (
        <ErrorNote error={error} />
      )}
      <p>
        <Link to="/">Back to the pipelines</Link>
      </p>
    </main>
  );
}
