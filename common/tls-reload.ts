// TLS files that are read again when they change, as a grpc-js CertificateProvider: the hub's
// certificate and key (a cert-manager renewal lands in the pod's Secret volume without a restart) and
// the agent's CA bundle. grpc-js puts each update into the secure context of new connections; open
// connections keep theirs.
//
// Not grpc-js's own FileWatcherCertificateProvider: it hands over whatever it read, so a certificate
// written before its key, or a file gone for a moment, leaves the server dropping every new connection
// and saying nothing. Here an update is checked first (the pair must make a secure context together);
// a bad one keeps the last good files in use and is logged once.

import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import type { experimental } from '@grpc/grpc-js';
import type { Logger } from 'pino';

export interface TlsFiles {
  /** PEM certificate chain and its private key (a server's identity): both or neither. */
  certFile?: string;
  keyFile?: string;
  /** PEM CA bundle: the roots a client trusts, or the CA a server checks client certificates with. */
  caFile?: string;
}

export interface TlsReloadOptions {
  /** How often the files are read to look for a change. */
  intervalMs: number;
  log: Logger;
}

/** What one look at the files found. */
export type ReloadResult = 'unchanged' | 'reloaded' | 'kept-previous';

interface Contents {
  cert?: Buffer;
  key?: Buffer;
  ca?: Buffer;
}

export class ReloadingTlsFiles implements experimental.CertificateProvider {
  private current: Contents;
  /** Why the files on disk were last refused, so one bad state is logged once, not every interval. */
  private refused: string | undefined;
  private inFlight: Promise<ReloadResult> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly caListeners = new Set<experimental.CaCertificateUpdateListener>();
  private readonly identityListeners = new Set<experimental.IdentityCertificateUpdateListener>();

  /** Reads and checks the files; throws an Error naming the file when they are unusable. */
  static async load(files: TlsFiles, opts: TlsReloadOptions): Promise<ReloadingTlsFiles> {
    const contents = await read(files);
    const problem = check(files, contents);
    if (problem) throw new Error(problem);
    return new ReloadingTlsFiles(files, contents, opts);
  }

  private constructor(
    private readonly files: TlsFiles,
    contents: Contents,
    private readonly opts: TlsReloadOptions,
  ) {
    this.current = contents;
  }

  /** Reads the files again and hands a changed, usable set to grpc-js. The poll timer calls this. */
  reload(): Promise<ReloadResult> {
    this.inFlight ??= this.readAndSwap().finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  private async readAndSwap(): Promise<ReloadResult> {
    let next: Contents;
    try {
      next = await read(this.files);
    } catch (err) {
      return this.keepPrevious((err as Error).message);
    }
    const unchanged = (['cert', 'key', 'ca'] as const).every((k) => equal(next[k], this.current[k]));
    if (unchanged) {
      this.refused = undefined;
      return 'unchanged';
    }
    const problem = check(this.files, next);
    if (problem) return this.keepPrevious(problem);
    this.current = next;
    this.refused = undefined;
    this.opts.log.info(describe(next), 'TLS files changed; new connections use them');
    for (const listener of this.identityListeners) listener(this.identityUpdate());
    for (const listener of this.caListeners) listener(this.caUpdate());
    return 'reloaded';
  }

  private keepPrevious(problem: string): ReloadResult {
    if (this.refused !== problem)
      this.opts.log.warn({ problem }, 'TLS files changed but cannot be used; keeping the previous ones');
    this.refused = problem;
    return 'kept-previous';
  }

  // grpc-js's side. It adds its listeners when credentials start being used (a server binds, a channel
  // connects) and removes them when they stop, so the files are watched exactly while needed. The first
  // update goes out on the next tick: grpc-js registers its own watcher right after adding a listener.

  addCaCertificateListener(listener: experimental.CaCertificateUpdateListener): void {
    this.caListeners.add(listener);
    this.watch();
    process.nextTick(() => listener(this.caUpdate()));
  }

  removeCaCertificateListener(listener: experimental.CaCertificateUpdateListener): void {
    this.caListeners.delete(listener);
    this.unwatchIfUnused();
  }

  addIdentityCertificateListener(listener: experimental.IdentityCertificateUpdateListener): void {
    this.identityListeners.add(listener);
    this.watch();
    process.nextTick(() => listener(this.identityUpdate()));
  }

  removeIdentityCertificateListener(listener: experimental.IdentityCertificateUpdateListener): void {
    this.identityListeners.delete(listener);
    this.unwatchIfUnused();
  }

  private caUpdate(): experimental.CaCertificateUpdate | null {
    return this.current.ca ? { caCertificate: this.current.ca } : null;
  }

  private identityUpdate(): experimental.IdentityCertificateUpdate | null {
    const { cert, key } = this.current;
    return cert && key ? { certificate: cert, privateKey: key } : null;
  }

  private watch(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.reload(), this.opts.intervalMs);
    this.timer.unref();
  }

  private unwatchIfUnused(): void {
    if (this.caListeners.size > 0 || this.identityListeners.size > 0) return;
    clearInterval(this.timer);
    this.timer = undefined;
  }
}

async function read(files: TlsFiles): Promise<Contents> {
  const one = async (file: string | undefined) => {
    if (file === undefined) return undefined;
    try {
      return await readFile(file);
    } catch (err) {
      throw new Error(
        `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
        { cause: err },
      );
    }
  };
  const [cert, key, ca] = await Promise.all([one(files.certFile), one(files.keyFile), one(files.caFile)]);
  return { cert, key, ca };
}

/** Why the contents cannot be used, or undefined. */
function check(files: TlsFiles, c: Contents): string | undefined {
  if (c.cert && c.key) {
    try {
      new X509Certificate(c.cert);
      createSecureContext({ cert: c.cert, key: c.key });
    } catch (err) {
      return `${files.certFile} and ${files.keyFile} are not a PEM certificate and its key: ${(err as Error).message}`;
    }
  }
  if (c.ca) {
    try {
      new X509Certificate(c.ca);
      createSecureContext({ ca: c.ca });
    } catch (err) {
      return `${files.caFile} is not a PEM CA bundle: ${(err as Error).message}`;
    }
  }
  return undefined;
}

function describe(c: Contents): Record<string, string> {
  const out: Record<string, string> = {};
  if (c.cert) {
    const cert = new X509Certificate(c.cert);
    out.certificate = cert.subject;
    out.expires = cert.validTo;
  }
  if (c.ca) out.ca = new X509Certificate(c.ca).subject;
  return out;
}

function equal(a: Buffer | undefined, b: Buffer | undefined): boolean {
  return a === undefined || b === undefined ? a === b : a.equals(b);
}
