// The keys the hub signs `idtoken` var source tokens with, as Concourse's signing key lifecycle
// (atc/creds/idtoken/lifecycle.go): one current key per type (RSA for RS256, EC P-256 for ES256),
// made when first needed, replaced after ROTATION_MS; a superseded key stays published in the JWKS
// for GRACE_MS after its successor was made (tokens it signed still verify), then is deleted. Keys
// live in the store (private part encrypted at rest), so every replica and restart signs and
// publishes the same ones.

import { createPrivateKey, createPublicKey, generateKeyPair, randomUUID, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import type { SigningKeyRecord, SigningKeyStore } from '../store/store.js';

/** Concourse's --signing-key-rotation-period, --signing-key-grace-period and --check-interval. */
export const ROTATION_MS = 7 * 24 * 3600_000;
export const GRACE_MS = 24 * 3600_000;
const RECHECK_MS = 10 * 60_000;

export type KeyType = SigningKeyRecord['kty'];

export interface SigningKey {
  kid: string;
  kty: KeyType;
  privateKey: KeyObject;
}

const generate = promisify(generateKeyPair);

export class SigningKeys {
  private keys: SigningKeyRecord[] = [];
  private checkedAt = -Infinity;
  private checking: Promise<void> | undefined;

  constructor(
    private readonly store: SigningKeyStore,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Makes sure a current key of each type exists and superseded ones past their grace are gone (at
   * most every few minutes; concurrent callers share one check).
   */
  refresh(): Promise<void> {
    if (this.now() - this.checkedAt < RECHECK_MS) return Promise.resolve();
    this.checking ??= this.check().finally(() => (this.checking = undefined));
    return this.checking;
  }

  /** The newest key of the type (refresh() first). */
  current(kty: KeyType): SigningKey | undefined {
    const newest = this.keys.filter((k) => k.kty === kty).at(-1);
    return (
      newest && {
        kid: newest.kid,
        kty,
        privateKey: createPrivateKey({ key: jwkOf(newest.privateJwk), format: 'jwk' }),
      }
    );
  }

  /** The public keys to publish (`/.well-known/jwks.json`). */
  async jwks(): Promise<{ keys: Record<string, unknown>[] }> {
    await this.refresh();
    return { keys: this.keys.map((k) => JSON.parse(k.publicJwk) as Record<string, unknown>) };
  }

  private async check(): Promise<void> {
    const at = this.now();
    let keys = await this.store.list();
    for (const kty of ['RSA', 'EC'] as const) {
      const ofType = keys.filter((k) => k.kty === kty);
      const newest = ofType.at(-1);
      if (!newest || newest.createdAt + ROTATION_MS <= at) {
        await this.store.add(await newKey(kty, at));
        continue;
      }
      if (newest.createdAt + GRACE_MS <= at)
        for (const old of ofType.slice(0, -1)) await this.store.remove(old.kid);
    }
    keys = await this.store.list();
    this.keys = keys;
    this.checkedAt = at;
  }
}

async function newKey(kty: KeyType, at: number): Promise<SigningKeyRecord> {
  // RSA 2048 (RS256's usual size; Concourse makes 4096, which takes seconds of CPU to generate).
  const { privateKey } =
    kty === 'RSA'
      ? await generate('rsa', { modulusLength: 2048 })
      : await generate('ec', { namedCurve: 'P-256' });
  const kid = randomUUID();
  const alg = kty === 'RSA' ? 'RS256' : 'ES256';
  const publicJwk = { ...createPublicKey(privateKey).export({ format: 'jwk' }), kid, alg, use: 'sig' };
  return {
    kid,
    kty,
    privateJwk: JSON.stringify(privateKey.export({ format: 'jwk' })),
    publicJwk: JSON.stringify(publicJwk),
    createdAt: at,
  };
}

function jwkOf(text: string): Record<string, unknown> {
  return JSON.parse(text) as Record<string, unknown>;
}
