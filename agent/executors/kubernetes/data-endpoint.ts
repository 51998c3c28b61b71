// The agent's in-cluster data endpoint (pool setting `data_path: agent`): step pods fetch their inputs
// and push their outputs and caches over the pod network, so no artifact byte crosses the API server.
// One plain HTTP listener per agent, shared by its Kubernetes pools.
//
// Each step gets a grant: a random bearer token (delivered to the pod in its own Secret), valid for
// that step's URLs only and only from start() until the step is cleaned up (revoke). Only a digest of
// the token is kept. Routes, under /v1/steps/<lease>:
//   GET  inputs                      the step's inputs tar (Content-Length: its size)
//   POST uploads/<slot>?part=<n>     the next piece of upload <slot> (outputs, then caches), in order
//   POST uploads/<slot>/done?size=<bytes>&sha256=<hex>
//                                    the upload is whole: verified against what the pod measured
// Uploads are accepted only while the executor collects them (expectUploads) and only up to each
// slot's byte limit. A refusal answers with a one-line reason, which the pod's helper prints.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';

export interface DataEndpointOptions {
  /** host:port to listen on ("[::]:7790" in a cluster, "127.0.0.1:0" in tests). */
  listen: string;
  /** The base URL pods reach the listener at (a Service); default: http://<listen address>. */
  advertise?: string;
}

/** What a step may fetch: its inputs tar, as the executor built it. */
export interface GrantedInputs {
  file: string;
  size: number;
  sha256: string;
}

/** Where one upload lands, and how large it may grow. */
export interface UploadSlot {
  file: string;
  maxBytes: number;
}

/** How an upload ended, as the pod measured it and the agent checked it. */
export type UploadResult =
  | { state: 'verified'; size: number; sha256: string }
  | { state: 'failed'; reason: TransferFailure; message: string }
  | { state: 'missing' };

/** Why a transfer failed, as a type (the executor's messages and the tests branch on this). */
export type TransferFailure = 'cut' | 'digest' | 'too-large' | 'refused';

interface Upload {
  slot: UploadSlot;
  nextPart: number;
  received: number;
  hash: ReturnType<typeof createHash>;
  /** One part at a time: the pod's helper sends them in order. */
  busy: boolean;
  result: UploadResult;
}

interface Grant {
  tokenDigest: Buffer;
  inputs: GrantedInputs | undefined;
  uploads: Upload[] | undefined;
}

class Refusal extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function digestOf(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

export class DataEndpoint {
  private readonly grants = new Map<string, Grant>();
  /** Requests served: the bench's count of what stayed off the API server. */
  requests = 0;

  private constructor(
    private readonly server: http.Server,
    /** Base URL step pods use; no trailing slash. */
    readonly url: string,
  ) {}

  static async start(opts: DataEndpointOptions): Promise<DataEndpoint> {
    const m = /^(\[[0-9A-Fa-f:.]+\]|[^:]+):(\d+)$/.exec(opts.listen);
    if (!m?.[1] || m[2] === undefined)
      throw new Error(`data endpoint: listen must be host:port, got ${opts.listen}`);
    const host = m[1].replace(/^\[|\]$/g, '');
    const server = http.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(Number(m[2]), host, () => resolve());
    });
    const address = server.address() as AddressInfo;
    const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    const endpoint = new DataEndpoint(
      server,
      (opts.advertise ?? `http://${shown}:${address.port}`).replace(/\/+$/, ''),
    );
    server.on('request', (req: IncomingMessage, res: ServerResponse) => void endpoint.handle(req, res));
    return endpoint;
  }

  /** The step's URL prefix, as its pod's helpers use it. */
  stepUrl(lease: string): string {
    return `${this.url}/v1/steps/${encodeURIComponent(lease)}`;
  }

  /**
   * Opens the step's grant and returns its token; `token` re-opens the grant of a reattached step with
   * the token its pod already holds.
   */
  grant(lease: string, inputs: GrantedInputs | undefined, token?: string): string {
    const t = token ?? randomBytes(32).toString('base64url');
    this.grants.set(lease, { tokenDigest: digestOf(t), inputs, uploads: undefined });
    return t;
  }

  /** The pod may now push these uploads (slot n = the nth); results() reads how they ended. */
  expectUploads(lease: string, slots: UploadSlot[]): void {
    const grant = this.grants.get(lease);
    if (!grant) throw new Error(`data endpoint: no grant for lease ${lease}`);
    grant.uploads = slots.map((slot) => ({
      slot,
      nextPart: 0,
      received: 0,
      hash: createHash('sha256'),
      busy: false,
      result: { state: 'missing' },
    }));
  }

  results(lease: string): UploadResult[] {
    return this.grants.get(lease)?.uploads?.map((u) => u.result) ?? [];
  }

  /** Ends the grant: its token is refused from now on. */
  revoke(lease: string): void {
    this.grants.delete(lease);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.requests++;
    try {
      const url = new URL(req.url ?? '/', 'http://endpoint');
      const m = /^\/v1\/steps\/([^/]+)\/(inputs|uploads\/(\d+)(\/done)?)$/.exec(url.pathname);
      if (!m?.[1]) throw new Refusal(404, 'no such route');
      const grant = this.authorize(decodeURIComponent(m[1]), req.headers.authorization);
      if (m[2] === 'inputs') {
        if (req.method !== 'GET') throw new Refusal(405, 'inputs: GET only');
        await this.sendInputs(grant, res);
        return;
      }
      if (req.method !== 'POST') throw new Refusal(405, 'uploads: POST only');
      const upload = grant.uploads?.[Number(m[3])];
      if (!upload) throw new Refusal(409, 'no upload is expected there now');
      if (m[4]) this.finish(upload, url.searchParams);
      else await this.receivePart(upload, Number(url.searchParams.get('part')), req);
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } catch (err) {
      const refusal = err instanceof Refusal ? err : new Refusal(500, (err as Error).message);
      // The request body may still be coming: answer, then drop the connection.
      res.writeHead(refusal.status, { 'content-type': 'text/plain', connection: 'close' });
      res.end(`${refusal.message}\n`);
    }
  }

  /** The grant the token opens for this lease; a wrong, expired or missing token is refused alike. */
  private authorize(lease: string, header: string | undefined): Grant {
    const grant = this.grants.get(lease);
    const token = /^Bearer (\S+)$/.exec(header ?? '')?.[1];
    if (!grant || !token || !timingSafeEqual(digestOf(token), grant.tokenDigest))
      throw new Refusal(401, 'the step token is not valid (wrong, or the step is over)');
    return grant;
  }

  private async sendInputs(grant: Grant, res: ServerResponse): Promise<void> {
    const inputs = grant.inputs;
    if (!inputs) throw new Refusal(404, 'this step has no inputs here (the agent restarted)');
    res.writeHead(200, { 'content-type': 'application/x-tar', 'content-length': String(inputs.size) });
    await pipeline(createReadStream(inputs.file), res).catch(() => undefined);
  }

  private async receivePart(upload: Upload, part: number, req: IncomingMessage): Promise<void> {
    if (upload.result.state !== 'missing') throw new Refusal(409, 'this upload is already over');
    if (upload.busy || part !== upload.nextPart)
      throw this.fail(upload, 'cut', `part ${part} came where part ${upload.nextPart} was due`, 409);
    upload.busy = true;
    const { slot } = upload;
    const meter = new Transform({
      transform: (chunk: Buffer, _enc, done) => {
        upload.received += chunk.length;
        if (upload.received > slot.maxBytes)
          return done(this.fail(upload, 'too-large', `larger than the limit of ${slot.maxBytes} bytes`, 413));
        upload.hash.update(chunk);
        done(null, chunk);
      },
    });
    try {
      await pipeline(req, meter, createWriteStream(slot.file, { flags: part === 0 ? 'w' : 'a' }));
    } catch (err) {
      if (err instanceof Refusal) throw err;
      throw this.fail(
        upload,
        'cut',
        `the connection broke during part ${part}: ${(err as Error).message}`,
        400,
      );
    } finally {
      upload.busy = false;
    }
    upload.nextPart++;
  }

  private finish(upload: Upload, params: URLSearchParams): void {
    if (upload.result.state !== 'missing') throw new Refusal(409, 'this upload is already over');
    const size = Number(params.get('size'));
    const sha256 = params.get('sha256') ?? '';
    if (upload.received !== size)
      throw this.fail(upload, 'cut', `received ${upload.received} of the ${size} bytes the pod sent`, 422);
    const got = upload.hash.digest('hex');
    if (got !== sha256)
      throw this.fail(upload, 'digest', `received sha256 ${got}, the pod sent ${sha256}`, 422);
    upload.result = { state: 'verified', size, sha256 };
  }

  /** Records why an upload failed (the first reason stays) and returns the refusal to answer with. */
  private fail(upload: Upload, reason: TransferFailure, message: string, status: number): Refusal {
    if (upload.result.state !== 'failed') {
      upload.result = { state: 'failed', reason, message };
      void rm(upload.slot.file, { force: true });
    }
    return new Refusal(status, message);
  }
}
