// The metadata of every call the agent makes to the hub: its bearer token, and on side calls (artifact
// uploads and downloads, intercept tunnels) the session id of its latest Welcome, by which the hub tells
// this agent from others sharing its token (common/agent-session.ts).

import { Metadata } from '@grpc/grpc-js';
import { SESSION_METADATA_KEY } from '../../common/agent-session.js';

export class HubCallMetadata {
  private sessionId = '';

  constructor(private readonly token: string) {}

  /** The hub welcomed a session: side calls from now on name it. */
  welcomed(sessionId: string): void {
    this.sessionId = sessionId;
  }

  /** For the Connect stream: the token alone (the session does not exist yet). */
  forConnect(): Metadata {
    const metadata = new Metadata();
    metadata.set('authorization', `Bearer ${this.token}`);
    return metadata;
  }

  /** For a side call; before the first Welcome it names no session and the hub asks for a retry. */
  forSideCall(): Metadata {
    const metadata = this.forConnect();
    if (this.sessionId) metadata.set(SESSION_METADATA_KEY, this.sessionId);
    return metadata;
  }
}
