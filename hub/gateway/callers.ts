// Who is calling on an agent's side calls (artifact uploads and downloads, intercept tunnels): the live
// session named in the call's metadata (common/agent-session.ts), which must have authenticated with the
// same token. A token alone is not enough: agents sharing one (a StatefulSet's prefix token) are told
// apart by their sessions, so none can act under another's lease.

import { status as GrpcStatus, type Metadata } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { SESSION_METADATA_KEY } from '../../common/agent-session.js';
import type { HubMetrics } from '../metrics.js';
import { GatewayError, type AgentSession } from './session.js';

export class LiveSessions {
  private readonly byId = new Map<string, AgentSession>();

  constructor(
    private readonly metrics: HubMetrics,
    private readonly log: Logger,
  ) {}

  /** A session whose Hello was accepted; it stays until remove(). */
  add(session: AgentSession): void {
    this.byId.set(session.sessionId, session);
  }

  remove(session: AgentSession): void {
    this.byId.delete(session.sessionId);
  }

  /**
   * The caller's live session. FAILED_PRECONDITION (the agent retries after its next Welcome) when the
   * call names none that is live here: before a Welcome, or a session that ended or belonged to an
   * earlier hub process. PERMISSION_DENIED, counted, when the session is another token's.
   */
  callerOf(metadata: Metadata, tokenId: number): AgentSession {
    const id = metadata.get(SESSION_METADATA_KEY)[0];
    if (typeof id !== 'string' || id === '')
      throw new GatewayError(
        GrpcStatus.FAILED_PRECONDITION,
        `the call names no agent session (${SESSION_METADATA_KEY}); an agent calls only once the hub welcomed it`,
      );
    const session = this.byId.get(id);
    if (!session?.live)
      throw new GatewayError(
        GrpcStatus.FAILED_PRECONDITION,
        `agent session ${id} is not live on this hub (it ended, or the hub restarted); retry after the next Welcome`,
      );
    if (session.tokenId !== tokenId) {
      this.refused('session_token', { session: id, agent: session.agentName });
      throw new GatewayError(
        GrpcStatus.PERMISSION_DENIED,
        `agent session ${id} belongs to another agent token`,
      );
    }
    return session;
  }

  /** Counts and logs an authenticated agent's claim the hub refused (outpost_hub_agent_refusals_total). */
  refused(reason: string, fields: Record<string, unknown>): void {
    this.metrics.agentRefusals.inc({ reason });
    this.log.warn({ reason, ...fields }, 'agent claim refused');
  }
}
