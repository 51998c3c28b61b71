// Real pulls from loopback registries: an image whose registry is one of `registries` (host:port of a
// test registry on 127.0.0.1, plain HTTP) is pulled only if that registry has its manifest, asked with
// the pod's imagePullSecrets as a real kubelet would (Basic auth from each .dockerconfigjson entry for
// the host). Anything else fails as containerd words it, so a test sees ErrImagePull/ImagePullBackOff
// for a wrong digest, a missing tag or credentials that do not reach the pod.
import { fetch } from 'undici';

const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

/** Registry credentials the pod pulls with: one `auths` entry of a dockerconfigjson Secret. */
export interface PullAuth {
  registry: string;
  username: string;
  password: string;
}

/** The `auths` of a kubernetes.io/dockerconfigjson Secret's data (base64), [] when it is not one. */
export function pullAuthsOf(data: Record<string, string> | undefined): PullAuth[] {
  const raw = data?.['.dockerconfigjson'];
  if (!raw) return [];
  try {
    const parsed = JSON.parse(Buffer.from(raw, 'base64').toString('utf8')) as {
      auths?: Record<string, { username?: string; password?: string; auth?: string }>;
    };
    return Object.entries(parsed.auths ?? {}).flatMap(([registry, a]) => {
      let { username, password } = a;
      if ((username === undefined || password === undefined) && a.auth) {
        const text = Buffer.from(a.auth, 'base64').toString('utf8');
        const colon = text.indexOf(':');
        username = text.slice(0, colon);
        password = text.slice(colon + 1);
      }
      return username === undefined || password === undefined ? [] : [{ registry, username, password }];
    });
  } catch {
    return [];
  }
}

/**
 * Why pulling `image` fails, or undefined when it may be pulled: only images on one of `registries`
 * are asked about; others are taken as present (the fake has no other registry).
 */
export async function registryPullFailure(
  image: string,
  registries: readonly string[],
  auths: readonly PullAuth[],
): Promise<string | undefined> {
  const slash = image.indexOf('/');
  const host = slash < 0 ? '' : image.slice(0, slash);
  if (!registries.includes(host)) return undefined;
  const rest = image.slice(slash + 1);
  const at = rest.indexOf('@');
  const colon = rest.lastIndexOf(':');
  const [name, reference] =
    at >= 0
      ? [rest.slice(0, at), rest.slice(at + 1)]
      : colon >= 0
        ? [rest.slice(0, colon), rest.slice(colon + 1)]
        : [rest, 'latest'];
  const url = `http://${host}/v2/${name}/manifests/${reference}`;
  const head = (authorization?: string) =>
    fetch(url, {
      method: 'HEAD',
      headers: { accept: MANIFEST_ACCEPT, ...(authorization ? { authorization } : {}) },
    });
  let res = await head();
  for (const auth of auths.filter((a) => a.registry === host || a.registry === `http://${host}`)) {
    if (res.status !== 401) break;
    res = await head(`Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`);
  }
  const prefix = `failed to pull and unpack image "${image}": failed to resolve reference "${image}"`;
  if (res.ok) return undefined;
  if (res.status === 404) return `rpc error: code = NotFound desc = ${prefix}: ${image}: not found`;
  return `rpc error: code = Unknown desc = ${prefix}: unexpected status from HEAD request to ${url}: ${res.status} ${res.statusText}`;
}
