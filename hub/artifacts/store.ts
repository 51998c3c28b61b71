// The hub's artifact store: step outputs as tar archives, addressed by the sha256 of their bytes, so an
// output stored twice takes the space once and a digest names exactly one content.
//
// Contract for implementations:
// - put() streams with bounded memory, verifies the size and checksum it was promised (when given)
//   and the store's size limit, and stores nothing unless every check passed.
// - A digest once returned stays readable until delete(); put() of the same bytes is a no-op.
// - Errors are the classes below, each with a stable code and a message a user can act on.

import type { Readable } from 'node:stream';

export interface ArtifactRef {
  /** "sha256:<hex>" */
  digest: string;
  size: number;
}

export interface ArtifactStore {
  put(source: AsyncIterable<Uint8Array>, expect: { size?: number; sha256?: string }): Promise<ArtifactRef>;
  /** The stored bytes, or undefined when there is no such artifact. */
  open(digest: string): Promise<Readable | undefined>;
  has(digest: string): Promise<boolean>;
  /** One file out of a stored archive, at most `maxBytes` long. */
  readFile(digest: string, path: string, maxBytes: number): Promise<Buffer>;
  delete(digest: string): Promise<void>;
  /** Every stored artifact with when it was stored (for garbage collection). */
  list(): Promise<{ digest: string; storedAt: number }[]>;
}

export class ArtifactError extends Error {
  constructor(
    readonly code:
      | 'ARTIFACT_TOO_LARGE'
      | 'ARTIFACT_CHECKSUM'
      | 'ARTIFACT_NOT_FOUND'
      | 'ARTIFACT_FILE_NOT_FOUND'
      | 'ARTIFACT_FILE_TOO_LARGE',
    message: string,
  ) {
    super(message);
    this.name = 'ArtifactError';
  }
}

const DIGEST = /^sha256:[0-9a-f]{64}$/;

export function isDigest(value: string): boolean {
  return DIGEST.test(value);
}
