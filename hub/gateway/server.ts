// The gRPC server agents dial into. Authenticates every call by its bearer token before anything else,
// then hands Connect streams to AgentSession. TLS unless the operator explicitly asks for plaintext.

import {
  type Metadata,
  Server,
  ServerCredentials,
  status as GrpcStatus,
  type ServerDuplexStream,
  type ServerReadableStream,
  type ServerWritableStream,
  type sendUnaryData,
} from '@grpc/grpc-js';
import {
  AgentGatewayService,
  type AgentMessage,
  type ArtifactChunk,
  type ArtifactRef,
  type ArtifactRequest,
  type ArtifactUpload,
  type HubMessage,
  type TunnelFromAgent,
  type TunnelToAgent,
} from '../../proto/gen/outpost/v1/agent.js';
import { bearerSecret, type TokenCheck, type TokenService } from '../auth/tokens.js';
import type { TokenRecord } from '../store/store.js';
import type { ArtifactStore } from '../artifacts/store.js';
import { receiveUpload, sendDownload, type ArtifactRpcDeps } from './artifacts.js';
import { LiveSessions } from './callers.js';
import { AgentSession, GatewayError, type SessionDeps } from './session.js';
import { gatewayCredentials, type GatewayTls } from './tls-credentials.js';
import { widenFlowControl } from './flow-control.js';
import { HeartbeatTouches } from './heartbeat-touches.js';
import { bindGateway } from './listen.js';
import { logFailedHandshakes } from './tls-checks.js';
import type { Tunnels } from './tunnels.js';

export type { GatewayTls } from './tls-credentials.js';

export interface GatewayOptions {
  /** host:port; port 0 picks a free one. */
  listen: string;
  /** Undefined means plaintext, which main.ts allows only with an explicit flag. */
  tls: GatewayTls | undefined;
}

export interface Gateway {
  port: number;
  /** Tells every agent the hub is going away, then stops the server. */
  close(): Promise<void>;
}

/** What the gateway's sessions need from the hub; the gateway adds what its sessions share. */
export type GatewayDeps = Omit<SessionDeps, 'touches'>;

export async function startGateway(
  opts: GatewayOptions,
  tokens: TokenService,
  hubDeps: GatewayDeps,
  artifacts: ArtifactStore,
  tunnels: Tunnels,
): Promise<Gateway> {
  const log = hubDeps.log;
  const touches = new HeartbeatTouches(hubDeps.store, hubDeps.now, log);
  const deps: SessionDeps = { ...hubDeps, touches };
  const sessions = new Map<string, AgentSession>();
  /** Agent names that had a session with this process: another session of one is a reconnect. */
  const seen = new Set<string>();
  /**
   * Every connect call until its session has finished, its last store writes (the agent's state)
   * included: close() waits for them, since the hub closes its store next.
   */
  const running = new Set<Promise<void>>();
  const server = new Server({
    'grpc.max_receive_message_length': deps.limits.maxMessageBytes,
    'grpc.max_send_message_length': deps.limits.maxMessageBytes,
    'grpc.keepalive_time_ms': 30_000,
    'grpc.keepalive_timeout_ms': 10_000,
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.http2.min_ping_interval_without_data_ms': 5_000,
    // Channelz (grpc-js's introspection service, which the hub does not serve) keeps trackers and a
    // trace per connection and per call: memory and CPU for every one of thousands of idle agents.
    'grpc.enable_channelz': 0,
  });

  async function authenticate(
    metadata: Metadata,
    peer: string,
  ): Promise<{ token: TokenRecord; team: string | null } | Extract<TokenCheck, { ok: false }>> {
    const header = metadata.get('authorization')[0];
    const check = await tokens.verify('agent', typeof header === 'string' ? bearerSecret(header) : undefined);
    if (!check.ok) {
      deps.metrics.authFailures.inc();
      log.warn({ peer, reason: check.reason }, 'agent call rejected: UNAUTHENTICATED');
      return check;
    }
    const team =
      check.token.teamId === null ? null : ((await deps.store.getTeamById(check.token.teamId))?.name ?? null);
    return { token: check.token, team };
  }

  /**
   * Tokens revoked while this process runs, with the reason to give. A session authenticated just
   * before its token was revoked is refused at its Hello; identified sessions are ended at once.
   */
  const revokedTokens = new Map<number, string>();
  tokens.onRevoked((token) => {
    const reason = `agent token "${token.name}" was revoked`;
    revokedTokens.set(token.id, reason);
    for (const session of sessions.values()) {
      if (session.tokenId !== token.id || !session.live) continue;
      deps.metrics.agentRefusals.inc({ reason: 'revoked' });
      session.end(GrpcStatus.UNAUTHENTICATED, reason);
    }
  });

  // Side calls (artifacts, tunnels) name their session: the fence is the agent, not only its token.
  const live = new LiveSessions(deps.metrics, log);
  const artifactDeps: ArtifactRpcDeps = {
    artifacts,
    dispatcher: deps.dispatcher,
    store: deps.store,
    sessions: live,
    log,
  };
  /** The refusal of a call whose token did not pass: only an expired one's holder learns why. */
  const unauthenticated = (check: Extract<TokenCheck, { ok: false }>) => ({
    code: GrpcStatus.UNAUTHENTICATED,
    details: check.expired ? check.reason : 'missing, unknown or revoked agent token',
  });

  server.addService(AgentGatewayService, {
    connect(call: ServerDuplexStream<AgentMessage, HubMessage>) {
      const ended = (async () => {
        const auth = await authenticate(call.metadata, call.getPeer());
        if ('ok' in auth) {
          call.emit('error', unauthenticated(auth));
          return;
        }
        const session = new AgentSession(call, auth.token, auth.team, deps, (named) => {
          const revoked = revokedTokens.get(named.tokenId);
          if (revoked !== undefined) {
            deps.metrics.agentRefusals.inc({ reason: 'revoked' });
            throw new GatewayError(GrpcStatus.UNAUTHENTICATED, revoked);
          }
          const older = sessions.get(named.agentName);
          // An identity belongs to the token whose session holds it: another token's Hello under the
          // same name is someone else claiming to be this agent, so it is refused and the holder stays.
          if (older && older !== named && older.live && older.tokenId !== named.tokenId) {
            deps.metrics.agentRefusals.inc({ reason: 'identity_held' });
            throw new GatewayError(
              GrpcStatus.PERMISSION_DENIED,
              `agent "${named.agentName}" is connected with another agent token; ` +
                'a second session under its identity must use the same token',
            );
          }
          // The same token's newest session wins: an older one is a stream the agent already gave up on.
          if (seen.has(named.agentName)) deps.metrics.agentReconnects.inc();
          seen.add(named.agentName);
          if (older && older !== named) older.close('replaced by a newer session of the same agent');
          sessions.set(named.agentName, named);
          live.add(named);
        });
        await session.run();
        live.remove(session);
        if (sessions.get(session.agentName) === session) sessions.delete(session.agentName);
      })().catch((err: unknown) => {
        log.error({ err }, 'agent session crashed');
        call.emit('error', { code: GrpcStatus.INTERNAL, details: 'internal error' });
      });
      running.add(ended);
      void ended.then(() => running.delete(ended));
    },
    uploadArtifact(
      call: ServerReadableStream<ArtifactUpload, ArtifactRef>,
      callback: sendUnaryData<ArtifactRef>,
    ) {
      void (async () => {
        const auth = await authenticate(call.metadata, call.getPeer());
        if ('ok' in auth) return callback(unauthenticated(auth));
        const caller = live.callerOf(call.metadata, auth.token.id);
        callback(null, await receiveUpload(call, caller, artifactDeps));
      })().catch((err: unknown) => callback(statusOf(err, log)));
    },
    tunnel(call: ServerDuplexStream<TunnelFromAgent, TunnelToAgent>) {
      void (async () => {
        const auth = await authenticate(call.metadata, call.getPeer());
        if ('ok' in auth) return call.emit('error', unauthenticated(auth));
        const caller = live.callerOf(call.metadata, auth.token.id);
        tunnels.accept(call, caller.agentName, () =>
          live.refused('tunnel', { agent: caller.agentName, peer: call.getPeer() }),
        );
      })().catch((err: unknown) => call.emit('error', statusOf(err, log)));
    },
    downloadArtifact(call: ServerWritableStream<ArtifactRequest, ArtifactChunk>) {
      void (async () => {
        const auth = await authenticate(call.metadata, call.getPeer());
        if ('ok' in auth) return call.emit('error', unauthenticated(auth));
        await sendDownload(call, live.callerOf(call.metadata, auth.token.id), artifactDeps);
      })().catch((err: unknown) => call.emit('error', statusOf(err, log)));
    },
  });

  // TLS files are read again when they change: a renewed certificate needs no restart.
  const credentials = opts.tls ? await gatewayCredentials(opts.tls, log) : ServerCredentials.createInsecure();

  const port = await bindGateway(
    (address) =>
      new Promise<number>((resolve, reject) => {
        server.bindAsync(address, credentials, (err, bound) => (err ? reject(err) : resolve(bound)));
      }),
    opts.listen,
    log,
  );
  if (opts.tls) logFailedHandshakes(server, log);
  // An agent's whole log window (and a message besides) in flight at once, not one chunk per round trip.
  widenFlowControl(server, deps.limits.logWindowBytes + deps.limits.maxMessageBytes, log);

  return {
    port,
    async close() {
      touches.stop();
      for (const session of sessions.values()) session.close('hub shutting down');
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 5_000);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
      // The calls are over, but a session may still be storing that its agent disconnected.
      await Promise.all(running);
    },
  };
}

/** A gRPC status for a failed call: GatewayErrors say what went wrong; anything else is logged and INTERNAL. */
function statusOf(err: unknown, log: SessionDeps['log']): { code: GrpcStatus; details: string } {
  if (err instanceof GatewayError) return { code: err.code, details: err.message };
  log.error({ err }, 'agent call failed');
  return { code: GrpcStatus.INTERNAL, details: 'internal error' };
}
