import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { route } from './route.js';

describe('route', () => {
  it('refuses a url whose :params the params schema does not declare exactly', () => {
    const handler = () => undefined;
    expect(() => route({ method: 'GET', url: '/builds/:id', access: 'token', handler })).toThrow(
      'route GET /builds/:id: the url names [id], the params schema declares []',
    );
    expect(() =>
      route({
        method: 'GET',
        url: '/a/:x',
        access: 'token',
        params: z.object({ x: z.string(), y: z.string() }),
        handler,
      }),
    ).toThrow('route GET /a/:x: the url names [x], the params schema declares [x,y]');
    expect(
      route({ method: 'GET', url: '/a/:x', access: 'token', params: z.object({ x: z.string() }), handler })
        .url,
    ).toBe('/a/:x');
  });
});
