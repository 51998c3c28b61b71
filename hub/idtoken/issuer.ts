// What the engine asks of the idtoken var source: a token for a build, signed with the current key
// of the config's algorithm, issued in the hub's external URL's name.

import type { BuildView } from '../store/store.js';
import { idTokenConfig, keyTypeOf } from './config.js';
import type { SigningKeys } from './signing-keys.js';
import { signIdToken } from './tokens.js';

export interface IdTokenIssuer {
  keys: SigningKeys;
  /** The hub's external URL: the tokens' `iss`, where /.well-known/openid-configuration is served. */
  issuer: () => string;
  now?: () => number;
}

/**
 * A token for the build under the source's config; undefined when the config is not valid (set-pipeline
 * refuses it) or no key is there (keys.refresh() was not awaited).
 */
export function idTokenFor(
  issuer: IdTokenIssuer,
  config: Record<string, unknown> | undefined,
  build: BuildView,
): string | undefined {
  const checked = idTokenConfig(config ?? {});
  if (typeof checked === 'string') return undefined;
  const key = issuer.keys.current(keyTypeOf(checked));
  if (!key) return undefined;
  return signIdToken(key, issuer.issuer(), checked, build, (issuer.now ?? Date.now)());
}
