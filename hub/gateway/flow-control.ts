// HTTP/2 flow-control windows for agent connections. Node's HTTP/2 defaults to 64 KiB for a connection
// and for each stream, and grpc-js's server has no option to change them: an agent may then have one log
// chunk (64 KiB) on the wire before the hub's WINDOW_UPDATE comes back, so a session's log throughput is
// one chunk per round trip between the two event loops, whatever the hub's log window allows
// (issue 20: ~1 chunk per store transaction). Widened to hold the agent's whole unacknowledged log window
// and a message more, the chunks of a window travel together and the hub's group commit takes them in
// one transaction. Memory stays bounded: the agent keeps at most its log window unacknowledged, and a
// session that has its budget of log bytes in flight stops reading (hub/gateway/session.ts).

import type { Http2SecureServer, Http2Server, ServerHttp2Session } from 'node:http2';
import type { Server } from '@grpc/grpc-js';
import type { Logger } from 'pino';

/**
 * Widens the windows of every HTTP/2 connection `server` accepts to `bytes` (per stream and for the
 * connection). grpc-js keeps its HTTP/2 servers private (`http2Servers`, as tls-checks.ts reads them);
 * call after bindAsync. Returns false, with a warning, when this grpc-js version hides them elsewhere.
 */
export function widenFlowControl(server: Server, bytes: number, log: Logger): boolean {
  const listeners = (server as unknown as { http2Servers?: Map<Http2Server | Http2SecureServer, unknown> })
    .http2Servers;
  if (!(listeners instanceof Map) || listeners.size === 0) {
    log.warn('cannot widen HTTP/2 flow-control windows with this grpc-js version; log throughput is lower');
    return false;
  }
  for (const http2 of listeners.keys()) {
    // Sent in the server's first SETTINGS: every stream of the connection opens with this window.
    http2.updateSettings({ initialWindowSize: bytes });
    http2.on('session', (session: ServerHttp2Session) => {
      // The connection's own window is not a setting: it grows by a WINDOW_UPDATE. A connection cut as
      // it opened throws here: it keeps the default window, and this listener must not throw.
      if (session.destroyed) return;
      try {
        session.setLocalWindowSize(bytes);
      } catch (err) {
        log.debug({ err }, 'could not widen the flow-control window of a closing connection');
      }
    });
  }
  return true;
}
