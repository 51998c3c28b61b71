// What ties an agent's side calls (artifact uploads and downloads, intercept tunnels) to its session:
// the session id the hub gave in Welcome, sent as gRPC metadata. The token says which agents may call;
// the session id says which one is calling, so agents sharing a token (a StatefulSet's prefix token)
// cannot act under each other's leases. The id is random and travels only inside the agent's own
// (TLS) connection.

/** gRPC metadata key carrying the caller's session id (Welcome.session_id). */
export const SESSION_METADATA_KEY = 'x-outpost-session';
