// A client of the registry HTTP API v2 (the distribution spec) for one repository: manifests by tag or
// digest, tag lists, blobs up and down. It answers the registry's auth challenge as Docker does
// (Basic with the credentials, or a Bearer token from the challenge's realm for the repository's
// pull/push scope), and verifies what it reads against its digest: a manifest fetched by digest
// and every blob are hashed as they arrive, and a mismatch fails the step before the content is used.

import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { rootCertificates } from 'node:tls';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, fetch, type Response } from 'undici';
import { Backoff, type BackoffOptions } from '../../session/backoff.js';
import { ResourceFailure } from '../builtin.js';
import type { Repository } from './reference.js';

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { os?: string; architecture?: string; variant?: string };
}

export interface Manifest {
  mediaType: string;
  digest: string;
  bytes: Buffer;
}

export interface ClientOptions {
  username: string | undefined;
  password: string | undefined;
  /** Accept a certificate that does not verify, and plain HTTP. */
  insecure: boolean;
  /** PEM CA certificates trusted besides the system's. */
  caCerts: string[];
  /** 'pull' for check and get, 'pull,push' for put. */
  scope: 'pull' | 'pull,push';
  signal: AbortSignal;
  /** Told of each transient failure that is retried (for the step's log); absent: silent. */
  onRetry?: (line: string) => void;
}

/** Attempts of one request before a transient failure (reset, 5xx, 429) is the step's failure. */
export const MAX_ATTEMPTS = 4;
/** The longest Retry-After honoured; a registry asking for more is answered by failing. */
const MAX_RETRY_AFTER_MS = 60_000;
const RETRY_BACKOFF: BackoffOptions = { initialMs: 250, maxMs: 4000, floor: 0.5 };
const TRANSIENT_STATUSES = new Set([429, 500, 502, 503, 504]);
const TRANSIENT_CODES = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);

export const MEDIA = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

const MANIFEST_ACCEPT = [MEDIA.ociIndex, MEDIA.ociManifest, MEDIA.dockerList, MEDIA.dockerManifest].join(
  ', ',
);
/** Manifests are small; a registry answering more is not one. */
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

export function isIndex(mediaType: string): boolean {
  return mediaType === MEDIA.ociIndex || mediaType === MEDIA.dockerList;
}

export class RegistryClient {
  private readonly agent: Agent;
  private base: string | undefined;
  private authorization: string | undefined;
  /** Credentials reach only the registry's own origin and its token realm. */
  private readonly basic: string | undefined;

  constructor(
    private readonly repo: Repository,
    private readonly opts: ClientOptions,
  ) {
    this.agent = new Agent({
      connect: {
        ca: opts.caCerts.length > 0 ? [...rootCertificates, ...opts.caCerts] : undefined,
        rejectUnauthorized: !opts.insecure,
      },
    });
    this.basic =
      opts.username !== undefined && opts.password !== undefined
        ? `Basic ${Buffer.from(`${opts.username}:${opts.password}`).toString('base64')}`
        : undefined;
  }

  /** The repository as people write it, for messages: 127.0.0.1:5000/app. */
  get display(): string {
    return `${this.repo.registry}/${this.repo.name}`;
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  /** The digest a tag (or digest) points to, or undefined when the registry does not have it. */
  async resolve(reference: string): Promise<string | undefined> {
    const res = await this.send('HEAD', `manifests/${reference}`, { headers: { accept: MANIFEST_ACCEPT } });
    if (res.status === 404) return undefined;
    const digest = res.headers.get('docker-content-digest');
    if (res.ok && digest) return digest;
    // Still failing after the retries: reading the manifest instead would only repeat them.
    if (TRANSIENT_STATUSES.has(res.status)) throw await this.failure(res, `head manifest ${reference}`);
    // Some registries answer HEAD without the digest: read the manifest and hash it.
    const manifest = await this.manifest(reference);
    return manifest?.digest;
  }

  /** The manifest (image or index) at a tag or digest; undefined on 404. A digest is verified. */
  async manifest(reference: string): Promise<Manifest | undefined> {
    const res = await this.send('GET', `manifests/${reference}`, { headers: { accept: MANIFEST_ACCEPT } });
    if (res.status === 404) {
      await res.body?.cancel();
      return undefined;
    }
    if (!res.ok) throw await this.failure(res, `get manifest ${reference}`);
    const bytes = await readLimited(res, MAX_MANIFEST_BYTES, `manifest ${reference}`);
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    if (reference.includes(':') && reference !== digest)
      throw new ResourceFailure(
        `manifest ${reference} of ${this.display} does not match its digest (the registry sent content hashing to ${digest})`,
      );
    let mediaType = (res.headers.get('content-type') ?? '').split(';')[0]?.trim() ?? '';
    const declared = parseJson(bytes, `manifest ${reference}`) as { mediaType?: unknown };
    if (typeof declared.mediaType === 'string') mediaType = declared.mediaType;
    return { mediaType, digest, bytes };
  }

  /** Every tag of the repository, following the registry's pagination; [] for an unknown repository. */
  async tags(): Promise<string[]> {
    const tags: string[] = [];
    let next: string | undefined = 'tags/list?n=1000';
    while (next !== undefined) {
      const res = await this.send('GET', next);
      if (res.status === 404) {
        await res.body?.cancel();
        return tags;
      }
      if (!res.ok) throw await this.failure(res, 'list tags');
      const body = parseJson(await readLimited(res, MAX_MANIFEST_BYTES, 'tag list'), 'tag list') as {
        tags?: unknown;
      };
      if (Array.isArray(body.tags)) tags.push(...body.tags.filter((t): t is string => typeof t === 'string'));
      // Link: </v2/name/tags/list?last=x&n=1000>; rel="next"
      const link = /<([^>]+)>\s*;\s*rel="?next"?/.exec(res.headers.get('link') ?? '')?.[1];
      next = link === undefined ? undefined : link;
    }
    return tags;
  }

  /** Downloads a blob to `file`, failing (and removing the file) unless its digest and size match. */
  async download(desc: Pick<Descriptor, 'digest' | 'size'>, file: string): Promise<void> {
    const res = await this.send('GET', `blobs/${desc.digest}`);
    if (!res.ok || !res.body) throw await this.failure(res, `get blob ${desc.digest}`);
    const verify = new DigestCheck(desc, `blob ${desc.digest} of ${this.display}`);
    try {
      await pipeline(Readable.fromWeb(res.body), verify, createWriteStream(file), {
        signal: this.opts.signal,
      });
    } catch (err) {
      await rm(file, { force: true });
      throw err;
    }
  }

  async hasBlob(digest: string): Promise<boolean> {
    const res = await this.send('HEAD', `blobs/${digest}`);
    if (res.status === 404) return false;
    if (!res.ok) throw await this.failure(res, `check blob ${digest}`);
    return true;
  }

  /** Uploads `file` as the blob `digest` (one monolithic PUT), unless the registry has it already. */
  async upload(digest: string, size: number, file: string): Promise<void> {
    if (await this.hasBlob(digest)) return;
    const start = await this.send('POST', 'blobs/uploads/');
    await start.body?.cancel();
    const location = start.headers.get('location');
    if (start.status !== 202 || !location) throw await this.failure(start, `start upload of ${digest}`);
    const url = new URL(location, `${this.base ?? ''}/`);
    url.searchParams.set('digest', digest);
    const done = await this.send('PUT', url.toString(), {
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
      body: () => createReadStream(file),
    });
    await done.body?.cancel();
    if (done.status !== 201) throw await this.failure(done, `upload blob ${digest}`);
  }

  async putManifest(reference: string, manifest: Manifest): Promise<void> {
    const res = await this.send('PUT', `manifests/${reference}`, {
      headers: { 'content-type': manifest.mediaType },
      body: manifest.bytes,
    });
    await res.body?.cancel();
    if (res.status !== 201) throw await this.failure(res, `put manifest ${reference}`);
  }

  // --- transport ---

  /**
   * A request to `path` under /v2/<name>/ (or an absolute URL the registry gave), authenticated, with
   * transient failures (a reset connection, 5xx, 429) retried with backoff, honouring Retry-After.
   * A body given as a function is made anew for each attempt (a stream cannot be sent twice).
   */
  private async send(
    method: string,
    path: string,
    init: { headers?: Record<string, string>; body?: Buffer | (() => NodeJS.ReadableStream) } = {},
  ): Promise<Response> {
    const base = await this.baseUrl();
    const url = /^https?:\/\//.test(path) ? path : `${base}/v2/${this.repo.name}/${path}`;
    const what = `${method} ${new URL(url).pathname}`;
    const backoff = new Backoff(RETRY_BACKOFF);
    for (let attempt = 1; ; attempt++) {
      let res: Response;
      try {
        res = await this.authenticated(method, url, base, init);
      } catch (err) {
        if (err instanceof ResourceFailure) throw err;
        const code = errorCode(err);
        if (attempt >= MAX_ATTEMPTS || this.opts.signal.aborted || !TRANSIENT_CODES.has(code))
          throw this.unreachable(err, url);
        await this.pause(backoff.next(), `${what}: ${code}`, attempt);
        continue;
      }
      if (attempt >= MAX_ATTEMPTS || !TRANSIENT_STATUSES.has(res.status)) return res;
      const after = retryAfterMs(res.headers.get('retry-after'));
      if (after !== undefined && after > MAX_RETRY_AFTER_MS) return res;
      await res.body?.cancel();
      await this.pause(after ?? backoff.next(), `${what}: HTTP ${res.status}`, attempt);
    }
  }

  /** One attempt, answering a 401 challenge once. */
  private async authenticated(
    method: string,
    url: string,
    base: string,
    init: { headers?: Record<string, string>; body?: Buffer | (() => NodeJS.ReadableStream) },
  ): Promise<Response> {
    const attempt = () => {
      const headers: Record<string, string> = { ...init.headers };
      if (this.authorization && new URL(url).origin === base) headers.authorization = this.authorization;
      const body = typeof init.body === 'function' ? init.body() : init.body;
      return fetch(url, {
        method,
        headers,
        body: body as never,
        duplex: body ? 'half' : undefined,
        dispatcher: this.agent,
        signal: this.opts.signal,
      });
    };
    let res = await attempt();
    if (res.status === 401) {
      await res.body?.cancel();
      await this.authenticate(res.headers.get('www-authenticate') ?? '');
      res = await attempt();
    }
    if (res.status === 401) throw await this.failure(res, `${method} ${url.split('?')[0] ?? ''}`);
    return res;
  }

  private async pause(ms: number, why: string, attempt: number): Promise<void> {
    this.opts.onRetry?.(
      `registry ${this.display}: ${why}; retrying in ${(ms / 1000).toFixed(1)}s (attempt ${attempt + 1} of ${MAX_ATTEMPTS})`,
    );
    await sleep(ms, undefined, { signal: this.opts.signal });
  }

  /** https://registry, or http:// when HTTPS does not answer and plain HTTP is allowed. */
  private async baseUrl(): Promise<string> {
    if (this.base) return this.base;
    const https = `https://${this.repo.registry}`;
    try {
      const ping = await fetch(`${https}/v2/`, { dispatcher: this.agent, signal: this.opts.signal });
      await ping.body?.cancel();
      this.base = https;
    } catch (err) {
      // A certificate that does not verify is reported, not answered by dropping to plain HTTP.
      const code = (err as { cause?: { code?: string } }).cause?.code ?? '';
      if (!this.repo.allowHttp || this.opts.signal.aborted || /CERT|SELF_SIGNED|UNABLE_TO_VERIFY/.test(code))
        throw this.unreachable(err, https);
      this.base = `http://${this.repo.registry}`;
    }
    return this.base;
  }

  /** Answers a WWW-Authenticate challenge: Basic with the credentials, Bearer with a token. */
  private async authenticate(challenge: string): Promise<void> {
    const scheme = challenge.split(' ')[0]?.toLowerCase();
    if (scheme === 'basic') {
      if (!this.basic)
        throw new ResourceFailure(
          `${this.display} requires authentication: set source.username and source.password`,
        );
      this.authorization = this.basic;
      return;
    }
    if (scheme !== 'bearer')
      throw new ResourceFailure(
        `${this.display} asked for an authentication scheme Outpost does not speak: ${JSON.stringify(challenge)}`,
      );
    const params = Object.fromEntries(
      [...challenge.slice(6).matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1] ?? '', m[2] ?? '']),
    );
    if (!params.realm) throw new ResourceFailure(`${this.display} sent a Bearer challenge without a realm`);
    const realm = new URL(params.realm);
    if (params.service) realm.searchParams.set('service', params.service);
    realm.searchParams.set('scope', `repository:${this.repo.name}:${this.opts.scope}`);
    let res: Response;
    try {
      res = await fetch(realm, {
        headers: this.basic ? { authorization: this.basic } : {},
        dispatcher: this.agent,
        signal: this.opts.signal,
      });
    } catch (err) {
      throw this.unreachable(err, realm.origin);
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new ResourceFailure(
        `the token server ${realm.origin} refused ${this.basic ? `the credentials for` : 'anonymous access to'} ${this.display} (HTTP ${res.status})`,
      );
    }
    const body = parseJson(await readLimited(res, 1024 * 1024, 'token'), 'token response') as {
      token?: unknown;
      access_token?: unknown;
    };
    const token = typeof body.token === 'string' ? body.token : body.access_token;
    if (typeof token !== 'string' || token === '')
      throw new ResourceFailure(`the token server ${realm.origin} answered without a token`);
    this.authorization = `Bearer ${token}`;
  }

  private unreachable(err: unknown, url: string): Error {
    if (this.opts.signal.aborted) return err as Error;
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const detail = cause?.code ?? cause?.message ?? (err as Error).message;
    return new ResourceFailure(`cannot reach the registry at ${new URL(url).origin}: ${detail}`);
  }

  /** The registry's own error (`{errors: [{code, message}]}`) as a step failure. */
  private async failure(res: Response, what: string): Promise<ResourceFailure> {
    let detail = '';
    try {
      const body = JSON.parse(await res.text()) as { errors?: { code?: string; message?: string }[] };
      detail = (body.errors ?? []).map((e) => `${e.code ?? ''}: ${e.message ?? ''}`).join('; ');
    } catch {
      // Not the registry's JSON: the status says it.
    }
    const auth =
      res.status === 401 || res.status === 403
        ? this.basic
          ? ' (the credentials were refused)'
          : ' (set source.username and source.password)'
        : '';
    return new ResourceFailure(
      `${what} of ${this.display}: HTTP ${res.status}${detail ? ` ${detail}` : ''}${auth}`,
    );
  }
}

/** Passes bytes through while hashing them; fails at the end unless digest and size match. */
export class DigestCheck extends Transform {
  private readonly hash = createHash('sha256');
  private size = 0;

  constructor(
    private readonly want: Pick<Descriptor, 'digest' | 'size'>,
    private readonly what: string,
  ) {
    super();
    if (!want.digest.startsWith('sha256:'))
      throw new ResourceFailure(`${what}: unsupported digest algorithm (only sha256 is)`);
  }

  override _transform(
    chunk: Buffer,
    _enc: BufferEncoding,
    done: (err?: Error | null, data?: Buffer) => void,
  ) {
    this.size += chunk.length;
    this.hash.update(chunk);
    done(null, chunk);
  }

  override _flush(done: (err?: Error | null) => void) {
    const got = `sha256:${this.hash.digest('hex')}`;
    if (got !== this.want.digest)
      return done(new ResourceFailure(`${this.what} does not match its digest (got ${got})`));
    if (this.want.size >= 0 && this.size !== this.want.size)
      return done(
        new ResourceFailure(
          `${this.what} is ${this.size} bytes, not the ${this.want.size} its descriptor says`,
        ),
      );
    done();
  }
}

/** Retry-After in ms (seconds or an HTTP date); undefined when absent or unreadable. */
function retryAfterMs(value: string | null): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number.parseInt(value.trim(), 10) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

function errorCode(err: unknown): string {
  const cause = (err as { cause?: { code?: unknown } }).cause;
  return typeof cause?.code === 'string' ? cause.code : '';
}

async function readLimited(res: Response, max: number, what: string): Promise<Buffer> {
  const bytes = Buffer.from(await res.arrayBuffer());
  if (bytes.length > max) throw new ResourceFailure(`${what} is over ${max} bytes`);
  return bytes;
}

export function parseJson(bytes: Buffer, what: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(bytes.toString('utf8'));
    if (typeof value === 'object' && value !== null && !Array.isArray(value))
      return value as Record<string, unknown>;
  } catch {
    // Reported below.
  }
  throw new ResourceFailure(`${what} is not a JSON object`);
}
