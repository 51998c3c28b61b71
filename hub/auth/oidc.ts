// The hub as an OpenID Connect relying party (openid-client): the authorization code flow with PKCE,
// state and nonce, the provider found by discovery. A login's secrets (code verifier, nonce) stay in the
// hub's store, keyed by a hash of its state, until the provider sends the browser back: in the store and
// not in memory, because the callback may reach another hub replica than the start did. The callback
// takes the login (once) and learns who the user is (subject, name, groups) from the ID token and the
// userinfo endpoint.

import { createHash } from 'node:crypto';
import * as client from 'openid-client';
import type { OidcLoginStore } from '../store/store.js';

export interface OidcOptions {
  /** The provider's issuer URL (discovery reads ISSUER/.well-known/openid-configuration). */
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** What the login page calls the provider ("Okta", "Dex"). */
  displayName: string;
  /** The claim that lists the user's groups (`groups` for most providers). */
  groupsClaim: string;
  /** The claim that names the user; falls back to email, then the subject. */
  usernameClaim: string;
  scopes: string[];
}

export const DEFAULT_OIDC_SCOPES = ['openid', 'profile', 'email', 'groups'];

/** Who the provider says logged in. */
export interface OidcIdentity {
  subject: string;
  username: string;
  groups: string[];
}

/** What a login carries from its start to its callback (besides its secrets). */
export interface OidcLoginContext {
  team: string;
  /** A path on this hub for the web UI to go to after login. */
  redirect: string;
  /** The CLI's loopback listener, for a login started by `outpost login`. */
  cliRedirect: string | undefined;
}

interface Secrets {
  codeVerifier: string;
  nonce: string;
}

/** How long a started login may take to come back. */
const LOGIN_TTL_MS = 10 * 60_000;
/** Started logins kept at most: an unauthenticated caller must not grow the table without bound. */
const MAX_PENDING = 10_000;

/** The provider could not be reached or answered wrongly (a 502 for the caller). */
export class OidcProviderError extends Error {}

export class OidcRelyingParty {
  private discovered: Promise<client.Configuration> | undefined;

  constructor(
    readonly options: OidcOptions,
    private readonly logins: OidcLoginStore,
    /** Where the provider sends the browser back: the hub's external URL + the callback route. */
    private readonly redirectUri: () => string,
    private readonly now: () => number = Date.now,
  ) {}

  /** Discovery on first use, retried on the next login when it failed (the provider may start later). */
  private config(): Promise<client.Configuration> {
    this.discovered ??= discover(this.options).catch((err: unknown) => {
      this.discovered = undefined;
      throw new OidcProviderError(
        `OIDC discovery at ${this.options.issuer} failed: ${(err as Error).message}`,
        { cause: err },
      );
    });
    return this.discovered;
  }

  /** The provider's authorization URL for a new login, and its state (the key of its secrets). */
  async start(context: OidcLoginContext): Promise<{ url: string; state: string }> {
    const config = await this.config();
    if ((await this.logins.pending(this.now())) >= MAX_PENDING)
      throw new OidcProviderError('too many logins in progress; try again in a few minutes');
    const codeVerifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: this.redirectUri(),
      scope: this.options.scopes.join(' '),
      code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    const now = this.now();
    await this.logins.put(
      {
        stateHash: hashOf(state),
        context: JSON.stringify(context),
        codeVerifier,
        nonce,
        expiresAt: now + LOGIN_TTL_MS,
      },
      now,
    );
    return { url: url.href, state };
  }

  /**
   * The login a callback belongs to, taken (a state is good once); undefined when it is unknown or
   * too old.
   */
  async take(
    state: string,
  ): Promise<(OidcLoginContext & { finish: (callbackUrl: URL) => Promise<OidcIdentity> }) | undefined> {
    const login = await this.logins.take(hashOf(state), this.now());
    if (!login) return undefined;
    const context = JSON.parse(login.context) as OidcLoginContext;
    return {
      team: context.team,
      redirect: context.redirect,
      cliRedirect: context.cliRedirect,
      finish: (callbackUrl) => this.finish(callbackUrl, state, login),
    };
  }

  /** Exchanges the code (with the PKCE verifier) and reads the identity from the ID token and userinfo. */
  private async finish(callbackUrl: URL, state: string, login: Secrets): Promise<OidcIdentity> {
    const config = await this.config();
    const tokens = await client.authorizationCodeGrant(config, callbackUrl, {
      pkceCodeVerifier: login.codeVerifier,
      expectedState: state,
      expectedNonce: login.nonce,
      idTokenExpected: true,
    });
    const idClaims = tokens.claims();
    if (!idClaims) throw new OidcProviderError('the provider returned no ID token');
    // Providers put groups in the ID token, the userinfo answer, or both.
    const info = await client.fetchUserInfo(config, tokens.access_token, idClaims.sub);
    const claims: Record<string, unknown> = { ...info, ...idClaims };
    const named = [claims[this.options.usernameClaim], claims.email].find(
      (v): v is string => typeof v === 'string' && v !== '',
    );
    return {
      subject: idClaims.sub,
      username: named ?? idClaims.sub,
      groups: groupsOf(claims[this.options.groupsClaim]),
    };
  }
}

/** A state is stored by its hash: the database alone does not give what a callback must present. */
function hashOf(state: string): string {
  return createHash('sha256').update(state).digest('hex');
}

/** A groups claim is a list of names, or one name. */
function groupsOf(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  return Array.isArray(value) ? value.filter((g): g is string => typeof g === 'string') : [];
}

async function discover(options: OidcOptions): Promise<client.Configuration> {
  const issuer = new URL(options.issuer);
  return client.discovery(
    issuer,
    options.clientId,
    undefined,
    client.ClientSecretBasic(options.clientSecret),
    // Plain HTTP only to a provider on this host (tests, a local Dex); anywhere else it needs TLS.
    // eslint-disable-next-line @typescript-eslint/no-deprecated -- deprecated only to stand out; loopback only
    isLoopback(issuer) ? { execute: [client.allowInsecureRequests], timeout: 10 } : { timeout: 10 },
  );
}

export function isLoopback(url: URL): boolean {
  return ['127.0.0.1', '[::1]', 'localhost'].includes(url.hostname);
}
