// The artifact RPCs: step outputs stream up to the hub's artifact store and inputs stream down, on
// calls of their own so a large archive never delays the session stream. Both are allowed only for
// a step that is running under the lease named in the call; a download only for that step's inputs.

import { once } from 'node:events';
import { status as GrpcStatus, type ServerReadableStream, type ServerWritableStream } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type {
  ArtifactChunk,
  ArtifactRef,
  ArtifactRequest,
  ArtifactUpload,
} from '../../proto/gen/outpost/v1/agent.js';
import { ArtifactError, type ArtifactStore } from '../artifacts/store.js';
import type { Dispatcher } from '../dispatch/dispatcher.js';
import type { StepSpec } from '../dispatch/types.js';
import type { Store } from '../store/store.js';
import { GatewayError } from './session.js';

export interface ArtifactRpcDeps {
  artifacts: ArtifactStore;
  dispatcher: Dispatcher;
  store: Store;
  log: Logger;
}

const CHUNK = 64 * 1024;

export async function receiveUpload(
  call: ServerReadableStream<ArtifactUpload, ArtifactRef>,
  deps: ArtifactRpcDeps,
): Promise<ArtifactRef> {
  const iterator = (call as AsyncIterable<ArtifactUpload>)[Symbol.asyncIterator]();
  const first = await iterator.next();
  const header = first.done
    ? undefined
    : first.value.part?.$case === 'header'
      ? first.value.part.value
      : undefined;
  if (!header) throw new GatewayError(GrpcStatus.INVALID_ARGUMENT, 'an upload starts with its header');
  if (!deps.dispatcher.runningLease(header.leaseId)) {
    throw new GatewayError(GrpcStatus.FAILED_PRECONDITION, `lease ${header.leaseId} is not running a step`);
  }
  async function* data(): AsyncGenerator<Uint8Array> {
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      if (next.value.part?.$case !== 'data')
        throw new GatewayError(GrpcStatus.INVALID_ARGUMENT, 'only data may follow the header');
      yield next.value.part.value;
    }
  }
  try {
    const ref = await deps.artifacts.put(data(), { size: header.size, sha256: header.sha256 });
    deps.log.info({ leaseId: header.leaseId, output: header.name, ...ref }, 'artifact stored');
    return ref;
  } catch (err) {
    throw asGatewayError(err);
  }
}

export async function sendDownload(
  call: ServerWritableStream<ArtifactRequest, ArtifactChunk>,
  deps: ArtifactRpcDeps,
): Promise<void> {
  const { leaseId, digest } = call.request;
  const lease = deps.dispatcher.runningLease(leaseId);
  if (!lease)
    throw new GatewayError(GrpcStatus.FAILED_PRECONDITION, `lease ${leaseId} is not running a step`);
  const run = await deps.store.getStepRun(lease.stepRunId);
  const spec = (run?.spec as { spec?: StepSpec } | undefined)?.spec;
  if (!spec?.inputs.some((i) => i.artifactDigest === digest)) {
    throw new GatewayError(
      GrpcStatus.PERMISSION_DENIED,
      `${digest} is not an input of the step under lease ${leaseId}`,
    );
  }
  const stream = await deps.artifacts.open(digest);
  if (!stream) throw new GatewayError(GrpcStatus.NOT_FOUND, `artifact ${digest} is not in the store`);
  for await (const chunk of stream) {
    const buf = chunk as Buffer;
    for (let off = 0; off < buf.length; off += CHUNK) {
      if (!call.write({ data: buf.subarray(off, off + CHUNK) })) await once(call, 'drain');
    }
  }
  call.end();
}

function asGatewayError(err: unknown): unknown {
  if (!(err instanceof ArtifactError)) return err;
  const code =
    err.code === 'ARTIFACT_TOO_LARGE' ? GrpcStatus.RESOURCE_EXHAUSTED : GrpcStatus.INVALID_ARGUMENT;
  return new GatewayError(code, err.message);
}
