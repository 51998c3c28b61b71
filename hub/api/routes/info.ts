// GET /info: the hub's version and the name of the caller's credential (what `outpost login` checks).

import type { ApiContext } from '../context.js';
import { route, type Route } from '../route.js';
import type { InfoResponse } from '../types.js';

export function infoRoutes({ deps }: ApiContext): Route[] {
  return [
    route({
      method: 'GET',
      url: '/info',
      role: 'authenticated',
      handler: (_input, req): InfoResponse => ({
        version: deps.version,
        tokenName: req.caller?.token.name ?? '',
      }),
    }),
  ];
}
