import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { route } from './route.js';

describe('route', () => {
  it('refuses a url whose :params the params schema does not declare exactly', () => {
    const handler = () => undefined;
    expect(() => route({ method: 'GET', url: '/builds/:id', role: 'authenticated', handler })).toThrow(
      'route GET /builds/:id: the url names [id], the params schema declares []',
    );
    expect(() =>
      route({
        method: 'GET',
        url: '/a/:x',
        role: 'authenticated',
        params: z.object({ x: z.string(), y: z.string() }),
        handler,
      }),
    ).toThrow('route GET /a/:x: the url names [x], the params schema declares [x,y]');
    expect(
      route({
        method: 'GET',
        url: '/a/:x',
        role: 'authenticated',
        params: z.object({ x: z.string() }),
        handler,
      }).url,
    ).toBe('/a/:x');
  });
});

describe('route roles', () => {
  const handler = () => undefined;

  it('refuses a team role on a url that names no team and has no team()', () => {
    expect(() => route({ method: 'GET', url: '/builds', role: 'viewer', handler })).toThrow(
      'route GET /builds: role "viewer" needs a team: a :team in the url, or team()',
    );
  });

  it('makes a route without a role a type error', () => {
    // @ts-expect-error: `role` is required
    expect(() => route({ method: 'GET', url: '/x', handler })).toThrow('needs a team');
  });

  it('refuses a state-changing route without an action for the audit log', () => {
    expect(() => route({ method: 'PUT', url: '/x', role: 'admin', handler })).toThrow(
      'route PUT /x: a state-changing route needs an action for the audit log',
    );
    expect(route({ method: 'PUT', url: '/x', role: 'admin', action: 'x', handler }).action).toBe('x');
  });

  it('exposes only reads of a team', () => {
    const exposed = () => Promise.resolve(true);
    expect(() => route({ method: 'GET', url: '/x', role: 'authenticated', exposed, handler })).toThrow(
      "only a team's reads can be exposed",
    );
    expect(
      route({
        method: 'GET',
        url: '/teams/:team',
        role: 'viewer',
        params: z.object({ team: z.string() }),
        exposed,
        handler,
      }).authentication,
    ).toBe('optional');
  });
});
