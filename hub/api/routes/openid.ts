// The hub as an OpenID Connect issuer of the tokens `idtoken` var sources hand to steps (Concourse's
// /.well-known routes): the discovery document, and the public keys the tokens verify with. Open to
// anyone, as a cloud's STS fetches them to trust the hub's tokens. The issuer is the hub's external
// URL (--external-url), the tokens' `iss`.

import type { ApiContext } from '../context.js';
import { route, type Route } from '../route.js';

export const JWKS_PATH = '/.well-known/jwks.json';

export function openIdRoutes(ctx: ApiContext): Route[] {
  return [
    route({
      method: 'GET',
      url: '/.well-known/openid-configuration',
      role: 'public',
      handler: () => {
        const issuer = ctx.deps.externalUrl();
        return {
          issuer,
          jwks_uri: issuer + JWKS_PATH,
          response_types_supported: ['id_token'],
          subject_types_supported: ['public'],
          id_token_signing_alg_values_supported: ['RS256', 'ES256'],
          claims_supported: ['iss', 'sub', 'aud', 'iat', 'exp', 'team', 'pipeline', 'job', 'instance_vars'],
        };
      },
    }),
    route({
      method: 'GET',
      url: JWKS_PATH,
      role: 'public',
      handler: () => ctx.deps.signingKeys.jwks(),
    }),
  ];
}
