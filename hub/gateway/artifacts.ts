// The artifact RPCs: step outputs stream up to the hub's artifact store and inputs stream down, on
// calls of their own so a large archive never delays the session stream. Both are allowed only for
// a step running under the lease named in the call and held by the calling agent (its session, see
// callers.ts, not merely its token); a download only for that step's inputs. Each upload is recorded with its lease: the step's Finished must report
// the same digests (session.ts).

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
import type { LiveSessions } from './callers.js';
import { GatewayError, type AgentSession } from './session.js';

export interface ArtifactRpcDeps {
  artifacts: ArtifactStore;
  dispatcher: Dispatcher;
  store: Store;
  sessions: LiveSessions;
  log: Logger;
}

/**
 * The caller's running lease, or a GatewayError: not running, or held by another agent than the
 * caller's session (another token's, or a sibling sharing the caller's token).
 */
function ownLease(leaseId: string, caller: AgentSession, deps: ArtifactRpcDeps) {
  const lease = deps.dispatcher.runningLease(leaseId);
  if (!lease)
    throw new GatewayError(GrpcStatus.FAILED_PRECONDITION, `lease ${leaseId} is not running a step`);
  if (lease.agentName !== caller.agentName) {
    deps.sessions.refused('artifact_lease', { leaseId, holder: lease.agentName, caller: caller.agentName });
    throw new GatewayError(
      GrpcStatus.PERMISSION_DENIED,
      `lease ${leaseId} is not held by agent "${caller.agentName}"`,
    );
  }
  return lease;
}

const CHUNK = 64 * 1024;

/**
 * A call outlives nothing of its session: one still open when the session ended (its token revoked, the
 * agent gone or replaced) is refused then, else a revoked token's upload begun a moment before would
 * still be recorded under the lease. The agent retries after its next Welcome, if it gets one.
 */
function stillLive(caller: AgentSession, what: string): void {
  if (!caller.live)
    throw new GatewayError(
      GrpcStatus.FAILED_PRECONDITION,
      `agent session ${caller.sessionId} ended during the ${what}; retry after the next Welcome`,
    );
}

export async function receiveUpload(
  call: ServerReadableStream<ArtifactUpload, ArtifactRef>,
  caller: AgentSession,
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
  const lease = ownLease(header.leaseId, caller, deps);
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
    stillLive(caller, 'upload');
    await deps.store.uploads.record({
      stepRunId: lease.stepRunId,
      leaseId: header.leaseId,
      name: header.name,
      ...ref,
    });
    deps.log.info({ leaseId: header.leaseId, output: header.name, ...ref }, 'artifact stored');
    return ref;
  } catch (err) {
    throw asGatewayError(err);
  }
}

export async function sendDownload(
  call: ServerWritableStream<ArtifactRequest, ArtifactChunk>,
  caller: AgentSession,
  deps: ArtifactRpcDeps,
): Promise<void> {
  const { leaseId, digest } = call.request;
  const lease = ownLease(leaseId, caller, deps);
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
      stillLive(caller, 'download');
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
