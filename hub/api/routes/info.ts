// GET /info: the hub's version, how one logs in to it (what the login page offers), and the name of the
// caller's credential when one is sent (what `outpost login --token` checks).

import type { ApiContext } from '../context.js';
import { route, type Route } from '../route.js';
import type { InfoResponse } from '../types.js';

export function infoRoutes({ deps }: ApiContext): Route[] {
  return [
    route({
      method: 'GET',
      url: '/info',
      role: 'anyone',
      handler: async (_input, req): Promise<InfoResponse> => ({
        version: deps.version,
        tokenName: req.caller?.token.name ?? '',
        auth: {
          local: (await deps.store.users.list()).some((u) => u.oidc === null),
          oidc: deps.oidc ? { name: deps.oidc.options.displayName } : null,
        },
      }),
    }),
  ];
}
