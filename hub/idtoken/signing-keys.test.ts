// The idtoken signing keys' lifecycle, on a real store and a fake clock: made when first needed,
// rotated after ROTATION_MS, the superseded key published until GRACE_MS after its successor.

import { expect, it } from 'vitest';
import { openSqliteStore } from '../store/sqlite.js';
import { GRACE_MS, ROTATION_MS, SigningKeys } from './signing-keys.js';

it('makes one key per type, rotates them, and unpublishes the old ones after the grace', async () => {
  const store = await openSqliteStore({ memory: true });
  let now = 1_000_000;
  const keys = new SigningKeys(store.signingKeys, () => now);
  try {
    const first = (await keys.jwks()).keys.map((k) => k.kid);
    expect((await keys.jwks()).keys.map((k) => k.kty)).toEqual(['RSA', 'EC']);
    const rsa = keys.current('RSA')?.kid;
    expect(first).toContain(rsa);

    now += ROTATION_MS;
    const rotated = (await keys.jwks()).keys.map((k) => k.kid);
    expect(rotated).toHaveLength(4); // the old pair is still published
    expect(keys.current('RSA')?.kid).not.toBe(rsa);

    now += GRACE_MS;
    const after = (await keys.jwks()).keys.map((k) => k.kid);
    expect(after).toHaveLength(2);
    expect(after.some((kid) => first.includes(kid))).toBe(false);
  } finally {
    await store.close();
  }
});
