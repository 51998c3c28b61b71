// A real OCI registry on 127.0.0.1 for the registry-image resource's tests: Debian's
// `docker-registry` (distribution v2.8) run with its own config on a free port, optionally with
// htpasswd (Basic) auth, token (Bearer) auth through a small token server that signs JWTs the
// registry verifies against its rootcertbundle, and TLS with a fresh self-signed certificate. Test
// images are built here from files (tar layers, config, manifest) and pushed with plain HTTP calls,
// so the resource's own push is not what puts its fixtures in place.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash, createPrivateKey, sign } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { create } from 'tar';
import { Agent, fetch } from 'undici';
import { freePort } from './free-port.js';
import { selfSignedCert } from './self-signed.js';

const REGISTRY = '/usr/bin/docker-registry';

export interface TestRegistry {
  /** host:port, e.g. 127.0.0.1:40123 */
  host: string;
  /** https:// with tls, else http:// */
  url: string;
  /** The CA certificate (PEM) of a TLS registry. */
  caCert: string | undefined;
  /** Requests the token server refused or the registry answered 401 to (wrong credentials). */
  close(): Promise<void>;
}

export interface RegistryOptions {
  auth?: 'none' | 'htpasswd' | 'token';
  user?: string;
  password?: string;
  tls?: boolean;
}

/** Why the registry cannot run here, or undefined when it can. */
export function registryUnavailable(): string | undefined {
  if (!existsSync(REGISTRY)) return `${REGISTRY} is not installed (apt-get install docker-registry)`;
  if (!existsSync('/usr/bin/htpasswd'))
    return '/usr/bin/htpasswd is not installed (apt-get install apache2-utils)';
  return undefined;
}

export async function startRegistry(dir: string, opts: RegistryOptions = {}): Promise<TestRegistry> {
  const user = opts.user ?? 'ci';
  const password = opts.password ?? 'secret-pw';
  await mkdir(dir, { recursive: true });
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const config: string[] = [
    'version: 0.1',
    'log:',
    '  level: info',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${path.join(dir, 'data')}`,
    'http:',
    `  addr: ${host}`,
    '  secret: outpost-test',
  ];
  let caCert: string | undefined;
  if (opts.tls) {
    const tls = await selfSignedCert(dir, 'tls');
    caCert = tls.cert;
    config.push('  tls:', `    certificate: ${tls.certFile}`, `    key: ${tls.keyFile}`);
  }
  let tokenServer: Server | undefined;
  if (opts.auth === 'htpasswd') {
    const file = path.join(dir, 'htpasswd');
    await writeFile(file, execFileSync('htpasswd', ['-Bbn', user, password], { encoding: 'utf8' }));
    config.push('auth:', '  htpasswd:', '    realm: outpost-test', `    path: ${file}`);
  } else if (opts.auth === 'token') {
    const token = await startTokenServer(dir, user, password);
    tokenServer = token.server;
    config.push(
      'auth:',
      '  token:',
      `    realm: ${token.realm}`,
      '    service: outpost-registry',
      '    issuer: outpost-test-issuer',
      `    rootcertbundle: ${token.bundle}`,
    );
  }
  const configFile = path.join(dir, 'config.yml');
  await writeFile(configFile, `${config.join('\n')}\n`);
  const child: ChildProcess = spawn(REGISTRY, ['serve', configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let seen = '';
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      seen += d;
      if (/listening on/.test(seen)) resolve();
    });
    child.on('exit', (code) => reject(new Error(`docker-registry exited (${code}): ${seen}`)));
  });
  return {
    host,
    url: `${opts.tls ? 'https' : 'http'}://${host}`,
    caCert,
    close: async () => {
      tokenServer?.close();
      if (child.exitCode !== null) return;
      await new Promise<void>((resolve) => {
        child.on('exit', () => resolve());
        child.kill('SIGTERM');
      });
    },
  };
}

/**
 * A token server as the distribution spec describes (GET realm?service&scope with Basic auth ->
 * {token}): it checks the credentials and signs an RS256 JWT whose x5c certificate is the
 * registry's rootcertbundle, granting the scope asked for.
 */
async function startTokenServer(
  dir: string,
  user: string,
  password: string,
): Promise<{ server: Server; realm: string; bundle: string }> {
  const keyFile = path.join(dir, 'token.key');
  const bundle = path.join(dir, 'token.crt');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=outpost-token',
      '-keyout',
      keyFile,
      '-out',
      bundle,
    ],
    { stdio: 'ignore' },
  );
  const key = createPrivateKey(await readFile(keyFile));
  const der = Buffer.from(
    (await readFile(bundle, 'utf8')).replace(/-----[^-]+-----/g, '').replace(/\s/g, ''),
    'base64',
  );
  const expected = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  const server = createHttpServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.headers.authorization !== expected) {
      res.writeHead(401).end('{"details":"bad credentials"}');
      return;
    }
    const access = url.searchParams.getAll('scope').map((scope) => {
      const [type, name, actions] = scope.split(':');
      return { type, name, actions: (actions ?? '').split(',') };
    });
    const now = Math.floor(Date.now() / 1000);
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const head = b64({ alg: 'RS256', typ: 'JWT', x5c: [der.toString('base64')] });
    const claims = b64({
      iss: 'outpost-test-issuer',
      sub: user,
      aud: url.searchParams.get('service'),
      exp: now + 300,
      nbf: now - 10,
      iat: now,
      jti: createHash('sha256').update(String(Math.random())).digest('hex'),
      access,
    });
    const signature = sign('sha256', Buffer.from(`${head}.${claims}`), key).toString('base64url');
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ token: `${head}.${claims}.${signature}` }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, realm: `http://127.0.0.1:${port}/token`, bundle };
}

// --- test images ---

export interface BuiltImage {
  manifest: Buffer;
  digest: string;
  mediaType: string;
  blobs: Map<string, Buffer>;
  /** The config's labels etc., for assertions. */
  config: Record<string, unknown>;
}

/**
 * An image of `layers` (each a directory tree given as {path: content}; a `null` content writes an
 * empty directory, a `{symlink}` a symlink, a `{copyOf}` a copy of a host file with its mode) as an
 * OCI image manifest with gzipped layers.
 */
export async function buildImage(
  scratch: string,
  layers: Record<string, string | null | { symlink: string } | { copyOf: string }>[],
  config: { Env?: string[]; Cmd?: string[]; User?: string; Labels?: Record<string, string> } = {},
  platform = { os: 'linux', architecture: 'amd64' },
): Promise<BuiltImage> {
  const blobs = new Map<string, Buffer>();
  const layerDescs: { mediaType: string; size: number; digest: string }[] = [];
  const diffIds: string[] = [];
  for (const [i, files] of layers.entries()) {
    const root = path.join(scratch, `layer-${i}-${Math.random().toString(36).slice(2)}`);
    await mkdir(root, { recursive: true });
    for (const [rel, content] of Object.entries(files)) {
      const at = path.join(root, rel);
      await mkdir(path.dirname(at), { recursive: true });
      if (content === null) await mkdir(at, { recursive: true });
      else if (typeof content === 'string') await writeFile(at, content);
      else if ('copyOf' in content) execFileSync('cp', ['-L', '--preserve=mode', content.copyOf, at]);
      else execFileSync('ln', ['-s', content.symlink, at]);
    }
    const names = Object.keys(files).map((f) => f.split('/')[0] ?? f);
    const tarFile = `${root}.tar`;
    await create({ file: tarFile, cwd: root, portable: true, noMtime: true }, [...new Set(names)]);
    const tar = await readFile(tarFile);
    diffIds.push(digestOf(tar));
    const gz = gzipSync(tar);
    blobs.set(digestOf(gz), gz);
    layerDescs.push({
      mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
      size: gz.length,
      digest: digestOf(gz),
    });
  }
  const configJson = {
    architecture: platform.architecture,
    os: platform.os,
    config,
    rootfs: { type: 'layers', diff_ids: diffIds },
  };
  const configBytes = Buffer.from(JSON.stringify(configJson));
  blobs.set(digestOf(configBytes), configBytes);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        size: configBytes.length,
        digest: digestOf(configBytes),
      },
      layers: layerDescs,
    }),
  );
  return {
    manifest,
    digest: digestOf(manifest),
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    blobs,
    config: configJson,
  };
}

/** An OCI index of `images` (with their platforms), for multi-platform tests. */
export function buildIndex(images: { image: BuiltImage; os: string; architecture: string }[]): BuiltImage {
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: images.map(({ image, os, architecture }) => ({
        mediaType: image.mediaType,
        size: image.manifest.length,
        digest: image.digest,
        platform: { os, architecture },
      })),
    }),
  );
  const blobs = new Map<string, Buffer>();
  for (const { image } of images) for (const [d, b] of image.blobs) blobs.set(d, b);
  return {
    manifest,
    digest: digestOf(manifest),
    mediaType: 'application/vnd.oci.image.index.v1+json',
    blobs,
    config: {},
  };
}

export interface PushAuth {
  user: string;
  password: string;
}

/**
 * Pushes `image` as `name:tag` with the registry API directly (and the images of an index first).
 * With token auth the registry wants a Bearer token: `token` fetches one.
 */
export async function pushImage(
  registry: TestRegistry,
  name: string,
  tags: string[],
  image: BuiltImage,
  children: BuiltImage[] = [],
  auth?: PushAuth,
): Promise<void> {
  const dispatcher = new Agent({ connect: { ca: registry.caCert } });
  const headers = await authHeaders(registry, name, dispatcher, auth);
  const call = async (method: string, url: string, body?: Buffer, extra: Record<string, string> = {}) => {
    const res = await fetch(url.startsWith('http') ? url : `${registry.url}${url}`, {
      method,
      body,
      headers: { ...headers, ...extra },
      dispatcher,
    });
    if (res.status >= 300) throw new Error(`${method} ${url}: ${res.status} ${await res.text()}`);
    await res.body?.cancel();
    return res;
  };
  for (const [digest, blob] of image.blobs) {
    const started = await call('POST', `/v2/${name}/blobs/uploads/`);
    const location = new URL(started.headers.get('location') ?? '', registry.url);
    location.searchParams.set('digest', digest);
    await call('PUT', location.toString(), blob, { 'content-type': 'application/octet-stream' });
  }
  for (const child of children)
    await call('PUT', `/v2/${name}/manifests/${child.digest}`, child.manifest, {
      'content-type': child.mediaType,
    });
  for (const tag of tags)
    await call('PUT', `/v2/${name}/manifests/${tag}`, image.manifest, { 'content-type': image.mediaType });
  await dispatcher.close();
}

async function authHeaders(
  registry: TestRegistry,
  name: string,
  dispatcher: Agent,
  auth: PushAuth | undefined,
): Promise<Record<string, string>> {
  if (!auth) return {};
  const basic = `Basic ${Buffer.from(`${auth.user}:${auth.password}`).toString('base64')}`;
  const ping = await fetch(`${registry.url}/v2/`, { dispatcher });
  await ping.body?.cancel();
  const challenge = ping.headers.get('www-authenticate') ?? '';
  if (!challenge.startsWith('Bearer')) return { authorization: basic };
  const realm = /realm="([^"]+)"/.exec(challenge)?.[1] ?? '';
  const service = /service="([^"]+)"/.exec(challenge)?.[1] ?? '';
  const res = await fetch(`${realm}?service=${service}&scope=repository:${name}:pull,push`, {
    headers: { authorization: basic },
    dispatcher,
  });
  const { token } = (await res.json()) as { token: string };
  return { authorization: `Bearer ${token}` };
}

export function digestOf(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}
