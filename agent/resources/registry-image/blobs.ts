// What a put pushes, read from disk: blobs (files, each verified against its digest before it is
// sent), the manifests under the root (children of an index, pushed by digest), and the root manifest
// the tags point to.

import { createReadStream } from 'node:fs';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type Descriptor, DigestCheck, type Manifest } from './client.js';

export interface BlobFile {
  digest: string;
  size: number;
  file: string;
}

export interface PushPlan {
  blobs: BlobFile[];
  /** Manifests the root refers to, in the order they must be pushed (children first). */
  children: Manifest[];
  root: Manifest;
}

/** Reads `file` through and fails unless it hashes to `desc.digest` (and has its size). */
export async function verifyFile(file: string, desc: Pick<Descriptor, 'digest' | 'size'>, what: string) {
  await pipeline(
    createReadStream(file),
    new DigestCheck(desc, what),
    new Writable({ write: (_chunk, _enc, done) => done() }),
  );
}
