// The one error table of the API: every failure a handler can meet becomes a status code, a stable code
// and a message a user can act on, here and nowhere else.

import { OidcProviderError } from '../auth/oidc.js';
import { ArtifactError } from '../artifacts/store.js';
import { StoreConflictError } from '../store/store.js';
import type { ApiError } from './types.js';

export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly details?: ApiError['error']['details'],
  ) {
    super(message);
  }
}

export const notFound = (what: string) => new HttpError(404, 'not_found', `${what} not found`);

/** What the caller is told about `err`; `internal` answers carry no detail (the log has it). */
export function toApiError(err: unknown): { status: number; body: ApiError; internal: boolean } {
  if (err instanceof HttpError) {
    const body: ApiError = { error: { code: err.code, message: err.message } };
    if (err.details) body.error.details = err.details;
    return { status: err.statusCode, body, internal: false };
  }
  if (err instanceof OidcProviderError)
    return { status: 502, body: { error: { code: 'oidc_provider', message: err.message } }, internal: false };
  if (err instanceof ArtifactError) {
    const status = err.code === 'ARTIFACT_TOO_LARGE' ? 413 : err.code === 'ARTIFACT_NOT_FOUND' ? 404 : 400;
    return {
      status,
      body: { error: { code: err.code.toLowerCase(), message: err.message } },
      internal: false,
    };
  }
  if (err instanceof StoreConflictError)
    return { status: 409, body: { error: { code: 'conflict', message: err.message } }, internal: false };
  // Fastify's own client errors: malformed JSON, an unsupported content type, a body too large.
  const e = err as { statusCode?: unknown; code?: unknown; message?: unknown };
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    const code = typeof e.code === 'string' ? e.code : 'bad_request';
    const message = typeof e.message === 'string' ? e.message : 'bad request';
    return { status: e.statusCode, body: { error: { code, message } }, internal: false };
  }
  return { status: 500, body: { error: { code: 'internal', message: 'internal error' } }, internal: true };
}
