// Moves archives between the agent and the hub on the artifact RPCs (never on the session stream).

import { createReadStream, createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { once } from 'node:events';
import type { AgentGatewayClient, ArtifactRef } from '../../proto/gen/outpost/v1/agent.js';
import type { ArtifactCache } from './cache.js';
import type { PackedArchive } from './archive.js';
import type { HubCallMetadata } from '../session/call-metadata.js';

const CHUNK = 64 * 1024;

export class ArtifactTransfer {
  constructor(
    private readonly client: AgentGatewayClient,
    private readonly calls: HubCallMetadata,
    private readonly cache: ArtifactCache,
  ) {}

  /** Where outputs are packed before upload (inside the cache, so adopting one is a rename). */
  scratchDir(): Promise<string> {
    return this.cache.dir();
  }

  /** Uploads a packed output for the step under `leaseId`, and caches it under its digest. */
  async upload(leaseId: string, name: string, archive: PackedArchive): Promise<ArtifactRef> {
    const ref = await new Promise<ArtifactRef>((resolve, reject) => {
      const call = this.client.uploadArtifact(this.calls.forSideCall(), (err, response) =>
        err ? reject(err) : resolve(response),
      );
      void (async () => {
        call.write({
          part: { $case: 'header', value: { leaseId, name, size: archive.size, sha256: archive.sha256 } },
        });
        for await (const chunk of createReadStream(archive.file, { highWaterMark: CHUNK })) {
          if (!call.write({ part: { $case: 'data', value: chunk as Buffer } })) await once(call, 'drain');
        }
        call.end();
      })().catch((err: unknown) => {
        call.cancel();
        reject(err instanceof Error ? err : new Error(String(err)));
      });
    });
    await this.cache.adopt(archive.file, ref.digest, false);
    return ref;
  }

  /** The cached archive of `digest`, downloading it for the step under `leaseId` when missing. */
  async fetch(leaseId: string, digest: string): Promise<string> {
    const cached = await this.cache.get(digest);
    if (cached) return cached;
    const temp = await this.cache.tempPath();
    const out = createWriteStream(temp);
    try {
      const call = this.client.downloadArtifact({ leaseId, digest }, this.calls.forSideCall());
      for await (const chunk of call) {
        if (!out.write((chunk as { data: Buffer }).data)) await once(out, 'drain');
      }
      out.end();
      await once(out, 'finish');
    } catch (err) {
      // Cut off (the hub went away): the caller may try again; a partial file is no use to anyone.
      out.destroy();
      await rm(temp, { force: true });
      throw err;
    }
    return this.cache.adopt(temp, digest, true);
  }
}
