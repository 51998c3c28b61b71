// A test hub that logs in through the test OIDC provider (./oidc-provider.ts), both started here.

import type { HubOptions } from '../../hub/hub.js';
import { OIDC_CALLBACK_PATH } from '../../hub/api/routes/oidc.js';
import { DEFAULT_OIDC_SCOPES } from '../../hub/auth/oidc.js';
import { startTestHub, type TestHub } from './harness.js';
import { startOidcProvider, type TestOidcProvider } from './oidc-provider.js';

export interface OidcTestHub {
  hub: TestHub;
  provider: TestOidcProvider;
  close(): Promise<void>;
}

export async function startOidcTestHub(overrides: Partial<HubOptions> = {}): Promise<OidcTestHub> {
  const provider = await startOidcProvider();
  const hub = await startTestHub({
    ...overrides,
    oidc: {
      issuer: provider.issuer,
      clientId: provider.clientId,
      clientSecret: provider.clientSecret,
      displayName: 'Test IdP',
      groupsClaim: 'groups',
      usernameClaim: 'preferred_username',
      scopes: DEFAULT_OIDC_SCOPES,
    },
  });
  provider.register(hub.url + OIDC_CALLBACK_PATH);
  return {
    hub,
    provider,
    async close() {
      await hub.close();
      await provider.close();
    },
  };
}
