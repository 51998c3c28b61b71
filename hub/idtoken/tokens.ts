// An `idtoken` var source's config and the tokens it hands out: OIDC ID tokens (JWTs) the hub signs
// for a build's steps, so they can prove to a cloud (AWS STS, Vault...) which team, pipeline and job
// they run for, with the claims Concourse's idtoken provider gives (atc/creds/idtoken).

import { sign } from 'node:crypto';
import { formatInstanceVars, type InstanceVars } from '../pipeline/instance-vars.js';
import type { IdTokenConfig } from './config.js';
import type { SigningKey } from './signing-keys.js';

/** Who a token is for. */
export interface TokenSubject {
  teamName: string;
  pipelineName: string;
  jobName: string;
  pipelineInstanceVars?: InstanceVars;
}

/** A signed token for `subject`, issued by `issuer` (the hub's external URL) at `now`. */
export function signIdToken(
  key: SigningKey,
  issuer: string,
  config: IdTokenConfig,
  subject: TokenSubject,
  now: number,
): string {
  const iat = Math.floor(now / 1000);
  const instanceVars = subject.pipelineInstanceVars;
  const claims = {
    iss: issuer,
    sub: subjectOf(config.subjectScope, subject),
    aud: config.audience,
    iat,
    exp: iat + Math.floor(config.expiresInMs / 1000),
    team: subject.teamName,
    pipeline: subject.pipelineName,
    job: subject.jobName,
    ...(instanceVars && Object.keys(instanceVars).length > 0 ? { instance_vars: instanceVars } : {}),
  };
  const header = { alg: config.algorithm, kid: key.kid, typ: 'JWT' };
  const signed = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
  // ES256's signature is r || s (JWS), not DER.
  const signature = sign('sha256', Buffer.from(signed), {
    key: key.privateKey,
    ...(key.kty === 'EC' ? { dsaEncoding: 'ieee-p1363' as const } : {}),
  });
  return `${signed}.${signature.toString('base64url')}`;
}

function subjectOf(scope: IdTokenConfig['subjectScope'], s: TokenSubject): string {
  const escape = (text: string) => text.replaceAll('/', '%2F');
  const team = escape(s.teamName);
  const pipeline = escape(s.pipelineName);
  const instance = escape(s.pipelineInstanceVars ? formatInstanceVars(s.pipelineInstanceVars) : '');
  switch (scope) {
    case 'team':
      return team;
    case 'pipeline':
      return `${team}/${pipeline}`;
    case 'instance':
      return `${team}/${pipeline}/${instance}`;
    case 'job':
      return `${team}/${pipeline}/${instance}/${escape(s.jobName)}`;
  }
}

function base64url(text: string): string {
  return Buffer.from(text).toString('base64url');
}
