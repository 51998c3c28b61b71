// A real OpenID Connect provider (the `oidc-provider` package) on 127.0.0.1 for tests: one client (the
// hub), accounts given by the test (a name and groups), and a login page of its own that a test's
// "browser" (./oidc-browser.ts) fills in over HTTP. Consent is granted without asking, as for a
// first-party client.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';

export interface TestAccount {
  /** The subject, and the preferred_username the hub names the user by. */
  id: string;
  groups: string[];
}

export interface TestOidcProvider {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Registers the hub's callback (known once the hub listens) and starts answering. */
  register(redirectUri: string): void;
  addAccount(account: TestAccount): void;
  close(): Promise<void>;
}

const SCOPES = ['openid', 'profile', 'email', 'groups'];

export async function startOidcProvider(): Promise<TestOidcProvider> {
  let handle: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => {
    res.writeHead(503).end('provider not registered yet');
  };
  const server: Server = createServer((req, res) => handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const accounts = new Map<string, TestAccount>();
  const clientId = 'outpost-hub';
  const clientSecret = 'test-client-secret-of-enough-length';

  const register = (redirectUri: string) => {
    const provider = new Provider(issuer, {
      clients: [
        {
          client_id: clientId,
          client_secret: clientSecret,
          redirect_uris: [redirectUri],
          grant_types: ['authorization_code'],
          response_types: ['code'],
          token_endpoint_auth_method: 'client_secret_basic',
        },
      ],
      scopes: SCOPES,
      claims: {
        openid: ['sub'],
        profile: ['preferred_username'],
        email: ['email'],
        groups: ['groups'],
      },
      findAccount: (_ctx, id) => {
        const account = accounts.get(id);
        if (!account) return undefined;
        return {
          accountId: id,
          claims: () => ({
            sub: id,
            preferred_username: id,
            email: `${id}@example.test`,
            groups: account.groups,
          }),
        };
      },
      features: { devInteractions: { enabled: false } },
      interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
      // First-party client: the grant every login asks for is given without a consent page.
      loadExistingGrant: async (ctx) => {
        const grantId = ctx.oidc.result?.consent?.grantId ?? ctx.oidc.session?.grantIdFor(clientId);
        if (grantId) return ctx.oidc.provider.Grant.find(grantId);
        const grant = new ctx.oidc.provider.Grant({ clientId, accountId: ctx.oidc.session!.accountId! });
        grant.addOIDCScope(SCOPES.join(' '));
        await grant.save();
        return grant;
      },
      cookies: { keys: ['test-cookie-key'] },
      // Set, so the provider does not print a notice per artifact about its defaults.
      ttl: { Interaction: 600, Grant: 3600, Session: 3600, AccessToken: 600, IdToken: 600 },
    });
    const callback = provider.callback();
    handle = (req, res) => {
      const m = /^\/interaction\/([^/?]+)(\/login)?/.exec(req.url ?? '');
      if (!m) {
        callback(req, res);
        return;
      }
      interaction(provider, accounts, req, res, m[2] !== undefined).catch((err: unknown) => {
        res.writeHead(500).end(String(err));
      });
    };
  };

  return {
    issuer,
    clientId,
    clientSecret,
    register,
    addAccount: (account) => accounts.set(account.id, account),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The login page: a form asking for an account, and its submission (`login=<account>`). */
async function interaction(
  provider: Provider,
  accounts: Map<string, TestAccount>,
  req: IncomingMessage,
  res: ServerResponse,
  submitted: boolean,
): Promise<void> {
  const details = await provider.interactionDetails(req, res);
  if (!submitted) {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(
      `<form method="post" action="/interaction/${details.uid}/login"><input name="login"><button>Sign in</button></form>`,
    );
    return;
  }
  let body = '';
  for await (const chunk of req) body += String(chunk);
  const login = new URLSearchParams(body).get('login') ?? '';
  if (!accounts.has(login)) {
    res.writeHead(401, { 'content-type': 'text/plain' }).end(`no account "${login}"`);
    return;
  }
  await provider.interactionFinished(
    req,
    res,
    { login: { accountId: login } },
    { mergeWithLastSubmission: false },
  );
}
