// A step's files on their way into and out of its pod, on either data path (data-path.ts): the one
// inputs tar (every input, the kept task caches, the empty output and run dirs), and the uploads
// (each output, then each cache) brought back whole and verified. Task caches live in the agent's own
// cache directories (agent/task-caches.ts, which bounds them), one `cache.tar` per cache path.
import { randomUUID } from 'node:crypto';
import { copyFile, mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { create } from 'tar';
import { sha256Of, unpack } from '../../artifacts/archive.js';
import type { ExecStep } from '../executor.js';
import type { DataEndpoint } from './data-endpoint.js';
import {
  parseArchiveReport,
  pushCommand,
  streamOutCommand,
  TransferError,
  type InputsDigest,
  type SentArchive,
} from './data-path.js';
import { OUTPUTS_CONTAINER, stepDirs, workspacePath } from './pod.js';
import type { KubernetesPoolSettings } from './settings.js';
import { ConnectionCut, execCommand, execToFile, OutputTooLarge } from './streams.js';

/** The file a task cache is kept in, inside the directory TaskCaches gives the step. */
export const CACHE_FILE = 'cache.tar';

export interface InputsTar extends InputsDigest {
  file: string;
}

/** One tar with every input and kept cache at its path and the empty output and run dirs. */
export async function buildInputsTar(step: ExecStep, scratch: string): Promise<InputsTar> {
  const staging = path.join(scratch, 'inputs');
  await mkdir(staging, { recursive: true });
  for (const dir of stepDirs(step)) await mkdir(path.join(staging, dir), { recursive: true });
  for (const input of step.inputs) {
    if (input.archive) await unpack(input.archive, path.join(staging, input.path));
  }
  for (const cache of step.caches ?? []) {
    const kept = path.join(cache.dir, CACHE_FILE);
    // A cache that cannot be read back is only a cache: the step starts cold.
    if (await exists(kept)) await unpack(kept, path.join(staging, cache.path)).catch(() => undefined);
  }
  const file = path.join(scratch, 'inputs.tar');
  // Top-level entries, not ".": extracting "." would re-stamp the mount point, which a non-root
  // helper may not do.
  const entries = await readdir(staging);
  if (entries.length === 0) await writeFile(file, Buffer.alloc(1024));
  else await create({ cwd: staging, portable: true, noMtime: true, file }, entries);
  await rm(staging, { recursive: true, force: true });
  return { file, size: (await stat(file)).size, sha256: await sha256Of(file) };
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

/** Something the pod sends back: an output, or a cache the agent keeps. */
export interface UploadSpec {
  label: string;
  /** Path in the pod. */
  from: string;
  maxBytes: number;
}

/** Where the uploads of one step pod come from. */
export interface PodSource {
  kc: KubeConfig;
  pool: KubernetesPoolSettings;
  pod: string;
  lease: string;
  /** Set on the `agent` data path. */
  endpoint: DataEndpoint | undefined;
}

/** Each output's, then each cache's pod path, named for messages. */
export function uploadsOf(
  step: Pick<ExecStep, 'outputs' | 'caches'>,
  pool: KubernetesPoolSettings,
  maxBytes: number,
): UploadSpec[] {
  return [
    ...step.outputs.map((o) => ({
      label: `output "${o.name}"`,
      from: workspacePath(pool, o.path, `output "${o.name}"`),
      // The raw tar of the pod's files, re-packed after: allow it some slack over the limit.
      maxBytes: maxBytes * 2,
    })),
    ...(step.caches ?? []).map((c) => ({
      label: `cache ${JSON.stringify(c.path)}`,
      from: workspacePath(pool, c.path, `cache path ${JSON.stringify(c.path)}`),
      maxBytes,
    })),
  ];
}

/**
 * Brings every upload back into `dir` as a raw tar, verified for size and sha256; each entry is the
 * file, or the TransferError that says why that one did not arrive whole.
 */
export async function fetchUploads(
  src: PodSource,
  uploads: UploadSpec[],
  dir: string,
): Promise<(string | TransferError)[]> {
  const files = uploads.map(() => path.join(dir, `${randomUUID()}.raw.tar`));
  if (src.endpoint) return pushedToAgent(src, src.endpoint, uploads, files);
  const got: (string | TransferError)[] = [];
  for (const [i, upload] of uploads.entries()) {
    const file = files[i] ?? '';
    got.push(
      await streamedOut(src, upload, file).then(
        () => file,
        (err: unknown) => asTransferError(err, file),
      ),
    );
  }
  return got;
}

async function asTransferError(err: unknown, file: string): Promise<TransferError> {
  await rm(file, { force: true });
  if (err instanceof TransferError) return err;
  if (err instanceof OutputTooLarge) return new TransferError('too-large', err.message);
  return new TransferError('cut', (err as Error).message);
}

/** `api` path: the upload is the stdout of an exec; the pod says its size and sha256 on stderr. */
async function streamedOut(src: PodSource, upload: UploadSpec, file: string): Promise<void> {
  const stderr = await execToFile(
    src.kc,
    src.pool.namespace,
    src.pod,
    OUTPUTS_CONTAINER,
    streamOutCommand(src.pool, upload.from, randomUUID()),
    file,
    upload.maxBytes,
  ).catch((err: unknown) => {
    if (!(err instanceof ConnectionCut)) throw err;
    const sent = parseArchiveReport(src.pool, err.stderr);
    const of = sent ? ` of the ${sent.size}` : '';
    throw new TransferError('cut', `received ${err.bytes}${of} bytes, then ${err.message}`);
  });
  const sent = parseArchiveReport(src.pool, stderr);
  if (!sent) throw new TransferError('cut', `the pod did not say what it sent: ${stderr || 'no word'}`);
  await verifyReceived(file, sent);
}

/** Compares what arrived in `file` with what the pod said it sent; throws the TransferError why not. */
export async function verifyReceived(file: string, sent: SentArchive): Promise<void> {
  const size = (await stat(file)).size;
  if (size !== sent.size)
    throw new TransferError('cut', `received ${size} of the ${sent.size} bytes the pod sent`);
  // A Windows helper without certutil (nanoserver) says only the size.
  if (sent.sha256 === undefined) return;
  const sha256 = await sha256Of(file);
  if (sha256 !== sent.sha256)
    throw new TransferError('digest', `received sha256 ${sha256}, the pod sent ${sent.sha256}`);
}

/** `agent` path: one exec starts the pod's push to the data endpoint, which verifies each upload. */
async function pushedToAgent(
  src: PodSource,
  endpoint: DataEndpoint,
  uploads: UploadSpec[],
  files: string[],
): Promise<(string | TransferError)[]> {
  endpoint.expectUploads(
    src.lease,
    uploads.map((u, i) => ({ file: files[i] ?? '', maxBytes: u.maxBytes })),
  );
  const pushed = await execCommand(
    src.kc,
    src.pool.namespace,
    src.pod,
    OUTPUTS_CONTAINER,
    pushCommand(
      src.pool,
      uploads.map((u) => u.from),
    ),
  ).then(
    () => '',
    (err: unknown) => (err as Error).message,
  );
  const results = endpoint.results(src.lease);
  return Promise.all(
    uploads.map(async (_u, i) => {
      const r = results[i];
      const file = files[i] ?? '';
      if (r?.state === 'verified') return file;
      await rm(file, { force: true });
      if (r?.state === 'failed') return new TransferError(r.reason, r.message);
      return new TransferError('cut', `the pod did not push it${pushed ? `: ${pushed}` : ''}`);
    }),
  );
}

/** Keeps a cache the pod sent back as the step's next starting point (replacing the older one). */
export async function keepCache(raw: string, cacheDir: string): Promise<void> {
  await mkdir(cacheDir, { recursive: true });
  const target = path.join(cacheDir, CACHE_FILE);
  const incoming = `${target}.${randomUUID()}`;
  // Copied first when the scratch dir is on another filesystem; the rename keeps the swap atomic.
  await rename(raw, incoming).catch(async () => {
    await copyFile(raw, incoming);
    await rm(raw, { force: true });
  });
  await rename(incoming, target);
}
