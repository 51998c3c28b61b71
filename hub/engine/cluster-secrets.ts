// Var sources of type `kubernetes`: resolved by the agent, never by the hub. A task param whose whole
// value is `((source:secret.key))` becomes an env var the step's pod reads with `valueFrom.secretKeyRef`
// from Secret `secret` in the pool's namespace; the hub stores and sends only that reference. Anywhere
// else (inside a longer string, outside task params) such a var is an error: secretKeyRef can only fill
// a whole env var.

import type { SecretEnvVar } from '../dispatch/types.js';
import { wholeVar, type VarRef } from '../pipeline/vars.js';

/** The var source type the agent resolves from Secrets in its cluster. */
export const CLUSTER_VAR_SOURCE = 'kubernetes';

/** How a var of a `kubernetes` source is written, for messages. */
const FORM = '((SOURCE:SECRET.KEY))';

/** The reference as written, without the parentheses: `cluster-secrets:db-credentials.password`. */
export function refName(ref: VarRef): string {
  return [`${ref.source ?? ''}:${ref.path}`, ...ref.fields].join('.');
}

/** Why a `kubernetes` var used outside a whole task param value cannot be resolved. */
export function misplacedClusterVar(ref: VarRef): string {
  return (
    `var "${refName(ref)}": var source "${ref.source ?? ''}" (${CLUSTER_VAR_SOURCE}) is read by the agent ` +
    `into an env var (secretKeyRef), so it can only be the whole value of a task param, ` +
    `not part of a longer string or another field`
  );
}

/**
 * A stand-in the lookup hands back for a `kubernetes` var (its fields followed to a string), so the
 * substitution carries on and the step errors with `misplacedClusterVar` rather than "undefined vars".
 */
export function placeholderFor(ref: VarRef): unknown {
  return ref.fields.reduceRight<unknown>((inner, field) => ({ [field]: inner }), `((${refName(ref)}))`);
}

/**
 * Splits task params into the ones the hub resolves and the ones the agent reads from a Secret.
 * `isCluster(source)` tells whether a var source is of type `kubernetes`.
 */
export function splitClusterParams(
  params: Readonly<Record<string, string>>,
  isCluster: (source: string) => boolean,
): { params: Record<string, string>; secretEnv: SecretEnvVar[]; errors: string[] } {
  const plain: Record<string, string> = {};
  const secretEnv: SecretEnvVar[] = [];
  const errors: string[] = [];
  for (const [name, value] of Object.entries(params)) {
    const whole = typeof value === 'string' ? wholeVar(value) : undefined;
    const source = whole?.ref.source;
    if (!whole || source === undefined || !isCluster(source)) {
      plain[name] = value;
      continue;
    }
    const [key, ...extra] = whole.ref.fields;
    if (key === undefined || extra.length > 0) {
      errors.push(
        `param ${name}: var "${whole.name}": a ${CLUSTER_VAR_SOURCE} var source is read as ` +
          `${FORM.replace('SOURCE', source)} (one Secret, one key)`,
      );
      continue;
    }
    secretEnv.push({ name, source, secret: whole.ref.path, key });
  }
  return { params: plain, secretEnv, errors };
}
