// A `repository` as Docker and go-containerregistry read it: `alpine` is docker.io/library/alpine,
// `ghcr.io/org/app` names its registry by the dot (or port, or `localhost`) in its first component.

import { ResourceFailure } from '../builtin.js';

export interface Repository {
  /** host[:port] as written; docker.io's is index.docker.io. */
  registry: string;
  /** The path in the registry, e.g. library/alpine. */
  name: string;
  /** Plain HTTP is tried after HTTPS: for `insecure` and for loopback hosts, as go-containerregistry. */
  allowHttp: boolean;
}

const DOCKER_HUB = 'index.docker.io';
// Distribution's grammar: lowercase components separated by . _ __ or dashes, joined by /.
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;

export function parseRepository(text: string, insecure: boolean): Repository {
  const trimmed = text.trim();
  if (trimmed.includes('@') || /:[^/]*$/.test(trimmed.slice(trimmed.indexOf('/') + 1)))
    throw new ResourceFailure(
      `source.repository ${JSON.stringify(text)} must be a repository without a tag or digest (set source.tag instead)`,
    );
  const slash = trimmed.indexOf('/');
  const first = slash < 0 ? '' : trimmed.slice(0, slash);
  const explicit = first.includes('.') || first.includes(':') || first === 'localhost';
  let registry = explicit ? first : DOCKER_HUB;
  let name = explicit ? trimmed.slice(slash + 1) : trimmed;
  if (registry === 'docker.io') registry = DOCKER_HUB;
  if (registry === DOCKER_HUB && !name.includes('/')) name = `library/${name}`;
  if (name === '' || !name.split('/').every((c) => COMPONENT.test(c)))
    throw new ResourceFailure(
      `source.repository ${JSON.stringify(text)} is not a valid repository name (lowercase letters, digits and . _ - separated by /)`,
    );
  const host = registry.replace(/:\d+$/, '');
  const loopback = host === 'localhost' || /^127\.\d+\.\d+\.\d+$/.test(host) || host === '[::1]';
  return { registry, name, allowHttp: insecure || loopback };
}
