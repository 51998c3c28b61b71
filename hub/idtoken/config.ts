// An `idtoken` var source's `config:` (Concourse's atc/creds/idtoken/manager.go), checked when the
// pipeline is set. Pure: the pipeline compiler validates with it.

import { parseDuration } from '../../common/duration.js';

const SUBJECT_SCOPES = ['team', 'pipeline', 'instance', 'job'] as const;
const ALGORITHMS = { RS256: 'RSA', ES256: 'EC' } as const;
const DEFAULT_EXPIRES_MS = 3600_000;
const MAX_EXPIRES_MS = 24 * 3600_000;

export interface IdTokenConfig {
  audience: string[];
  subjectScope: (typeof SUBJECT_SCOPES)[number];
  expiresInMs: number;
  algorithm: keyof typeof ALGORITHMS;
}

/** The source's `config:`, checked; or what is wrong with it. */
export function idTokenConfig(config: Record<string, unknown>): IdTokenConfig | string {
  const known = ['audience', 'subject_scope', 'expires_in', 'algorithm'];
  const unknown = Object.keys(config).find((k) => !known.includes(k));
  if (unknown) return `unknown field "${unknown}" (known: ${known.join(', ')})`;
  const { audience = [], subject_scope = 'pipeline', expires_in, algorithm = 'RS256' } = config;
  if (!Array.isArray(audience) || !audience.every((a) => typeof a === 'string'))
    return 'audience must be a list of strings';
  if (!SUBJECT_SCOPES.some((s) => s === subject_scope))
    return `subject_scope must be one of ${SUBJECT_SCOPES.join(', ')}`;
  if (typeof algorithm !== 'string' || !Object.hasOwn(ALGORITHMS, algorithm))
    return `algorithm must be one of ${Object.keys(ALGORITHMS).join(', ')}`;
  let expiresInMs = DEFAULT_EXPIRES_MS;
  if (expires_in !== undefined) {
    const parsed = typeof expires_in === 'string' ? parseDuration(expires_in) : undefined;
    if (!parsed?.ok) return parsed ? `expires_in: ${parsed.error}` : 'expires_in must be a duration ("1h")';
    if (parsed.ms > MAX_EXPIRES_MS) return 'expires_in must be <= 24h';
    expiresInMs = parsed.ms;
  }
  return {
    audience,
    subjectScope: subject_scope as IdTokenConfig['subjectScope'],
    expiresInMs,
    algorithm: algorithm as IdTokenConfig['algorithm'],
  };
}

/** The key type a config's algorithm signs with. */
export function keyTypeOf(config: IdTokenConfig): 'RSA' | 'EC' {
  return ALGORITHMS[config.algorithm];
}
