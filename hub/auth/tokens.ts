// Bearer tokens for agents and API users. The secret is shown once, at creation; only its sha256 is
// stored, so a leaked database does not leak credentials. A prefix tells a reader what a token is for.

import { hash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FoundToken, NewToken, Store, TokenRecord } from '../store/store.js';

const PREFIX: Record<TokenRecord['kind'], string> = { agent: 'opa_', api: 'opu_' };

export function hashToken(secret: string): string {
  // The one-shot hash: no Hash object per API call.
  return hash('sha256', secret, 'hex');
}

export function generateToken(kind: TokenRecord['kind']): string {
  return PREFIX[kind] + randomBytes(32).toString('base64url');
}

/**
 * A valid token comes with its team, user and memberships, read with it (hub/auth/caller.ts).
 * `expired`: the secret is right but its time is up, which its holder may be told (they proved they hold
 * it); the other reasons are for logs only.
 */
export type TokenCheck = ({ ok: true } & FoundToken) | { ok: false; reason: string; expired?: true };

/** What an expired token's holder is told. */
export function expiredReason(token: TokenRecord): string {
  return `${token.kind} token "${token.name}" expired at ${new Date(token.expiresAt ?? 0).toISOString()}`;
}

/** True once `token` has an expiry and it has passed. */
export function hasExpired(token: TokenRecord, now: number): boolean {
  return token.expiresAt !== null && now >= token.expiresAt;
}

/** `here`: revoked through this process; `replica`: by another hub replica (hub/replicas/revocations.ts). */
export type RevokedListener = (token: TokenRecord, by: 'here' | 'replica') => void;

export class TokenService {
  private readonly revokedListeners: RevokedListener[] = [];

  constructor(
    private readonly store: Store,
    private readonly now: () => number = Date.now,
  ) {}

  async create(
    kind: TokenRecord['kind'],
    name: string,
    teamId: number | null,
    scope: Pick<NewToken, 'role' | 'expiresAt' | 'userId' | 'bounds'> = {},
  ): Promise<{ secret: string; token: TokenRecord }> {
    const secret = generateToken(kind);
    const token = await this.store.createToken({
      ...scope,
      kind,
      name,
      teamId,
      hash: hashToken(secret),
      createdAt: this.now(),
    });
    return { secret, token };
  }

  /** Checks a presented secret; the reason is for logs, never for the caller. */
  async verify(kind: TokenRecord['kind'], secret: string | undefined): Promise<TokenCheck> {
    if (!secret) return { ok: false, reason: 'no bearer token' };
    if (!secret.startsWith(PREFIX[kind])) return { ok: false, reason: `not an ${kind} token` };
    const presented = hashToken(secret);
    // Read at every call, never cached: a revocation (on any replica) refuses the very next request.
    const found = await this.store.findTokenByHash(presented);
    const token = found?.token;
    // The lookup is by hash already; the constant-time compare guards against a store that matches loosely.
    if (!found || !token || !timingSafeEqual(Buffer.from(token.hash), Buffer.from(presented))) {
      return { ok: false, reason: 'unknown token' };
    }
    if (token.kind !== kind) return { ok: false, reason: `not an ${kind} token` };
    if (token.revokedAt !== null) return { ok: false, reason: `token "${token.name}" was revoked` };
    const now = this.now();
    if (hasExpired(token, now)) return { ok: false, reason: expiredReason(token), expired: true };
    // Recording every use would put a write on every API call; a minute's resolution is enough.
    if (token.lastUsedAt === null || now - token.lastUsedAt > 60_000)
      await this.store.touchToken(token.id, now);
    return { ok: true, ...found };
  }

  /**
   * Revokes a token and tells every listener (the gateway closes the token's live sessions), so a
   * revocation takes effect on connections already open, not only on the next one. False if unknown.
   */
  async revoke(token: TokenRecord): Promise<boolean> {
    if (!(await this.store.revokeToken(token.id, this.now()))) return false;
    for (const listener of this.revokedListeners) listener(token, 'here');
    return true;
  }

  /** Another hub replica revoked the token: the listeners close what this one has open of it. */
  revokedByReplica(token: TokenRecord): void {
    for (const listener of this.revokedListeners) listener(token, 'replica');
  }

  onRevoked(listener: RevokedListener): void {
    this.revokedListeners.push(listener);
  }

  /** The kind of a known, unrevoked token, without recording a use: to tell a caller it used the wrong one. */
  async kindOf(secret: string | undefined): Promise<TokenRecord['kind'] | undefined> {
    if (!secret) return undefined;
    const token = (await this.store.findTokenByHash(hashToken(secret)))?.token;
    return token && token.revokedAt === null ? token.kind : undefined;
  }
}

/** Extracts the secret from an `Authorization: Bearer <secret>` value. */
export function bearerSecret(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)$/i.exec(header.trim());
  return match?.[1];
}
