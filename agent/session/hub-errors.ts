// The one place the agent turns gRPC failures into errors a user can act on. Everything else on the agent
// side sees these classes (and their stable `code`), never grpc-js status numbers or its raw details.

import { status as GrpcStatus } from '@grpc/grpc-js';

import { verifiedName, type HubTarget } from './hub-target.js';

/** A failed call to the hub: `code` is stable (for logs and metrics), `message` says what to do. */
export class HubError extends Error {
  constructor(
    readonly code: string,
    message: string,
    /** The gRPC status code the call ended with. */
    readonly grpcCode: number,
    cause: unknown,
  ) {
    super(message, { cause });
    this.name = new.target.name;
  }
}

/** Nothing answered at the address, or the connection failed before TLS or gRPC started. */
export class HubUnreachableError extends HubError {}
/** The hub's certificate is not signed by a CA the agent trusts. */
export class HubCertificateUntrustedError extends HubError {}
/** The hub's certificate does not name the host the agent verifies against. */
export class HubCertificateNameError extends HubError {}
/** mTLS: the hub wants a client certificate the agent does not present, or refused the one it did. */
export class HubClientCertificateError extends HubError {}
/** TLS on one side, plaintext on the other. */
export class HubTlsMismatchError extends HubError {}
/** UNAUTHENTICATED or PERMISSION_DENIED: retrying soon will not help; a new token will. */
export class HubRejectedTokenError extends HubError {}
/** RESOURCE_EXHAUSTED: a message over the hub's size limit. */
export class HubMessageTooLargeError extends HubError {}

interface GrpcLikeError {
  code?: unknown;
  details?: unknown;
}

/**
 * Maps an error from a call to the hub (the Connect stream or an artifact RPC) to a HubError whose
 * message names the setting or flag that fixes it. Errors that are not gRPC statuses pass through.
 */
export function hubErrorOf(err: unknown, target: HubTarget): Error {
  if (err instanceof HubError) return err;
  const e = (err ?? {}) as GrpcLikeError;
  if (!(err instanceof Error) || typeof e.code !== 'number' || !isStatus(e.code))
    return err instanceof Error ? err : new Error(String(err));
  const code = e.code;
  const details = cleanDetails(typeof e.details === 'string' ? e.details : err.message);
  switch (code) {
    case GrpcStatus.UNAUTHENTICATED:
    case GrpcStatus.PERMISSION_DENIED:
      return new HubRejectedTokenError(
        'HUB_REJECTED_TOKEN',
        `the hub rejected this agent's token: ${details}`,
        code,
        err,
      );
    case GrpcStatus.RESOURCE_EXHAUSTED:
      return new HubMessageTooLargeError(
        'HUB_MESSAGE_TOO_LARGE',
        `the hub refused a message over its limit: ${details}`,
        code,
        err,
      );
    case GrpcStatus.UNAVAILABLE:
      return connectionError(details, target, err) ?? generic(code, details, err);
    default:
      return generic(code, details, err);
  }
}

function isStatus(code: number): code is GrpcStatus {
  return code in GrpcStatus;
}

/** grpc-js appends "Resolution note: " (empty unless name resolution had something to say). */
function cleanDetails(details: string): string {
  return details
    .replace(/\s*Resolution note:\s*$/, '')
    .replace(/^No connection established\. Last error: (Error( \[\w+\])?: )?/, '')
    .replace(/[\s.]+$/, '');
}

function generic(code: GrpcStatus, details: string, cause: unknown): HubError {
  const name = GrpcStatus[code];
  return new HubError(`HUB_${name}`, `${name}: ${details}`, code, cause);
}

/** The connection-level failures grpc-js reports as UNAVAILABLE, each with its fix. */
function connectionError(details: string, target: HubTarget, cause: unknown): HubError | undefined {
  const at = `the hub at ${target.address}`;
  const unavailable = GrpcStatus.UNAVAILABLE;
  const refused = /ECONNREFUSED (\S+)/.exec(details);
  if (refused)
    return new HubUnreachableError(
      'HUB_CONNECTION_REFUSED',
      `${at} refused the connection (${refused[1]}): is the hub running, and is its --grpc-listen that port?`,
      unavailable,
      cause,
    );
  if (/ENOTFOUND|EAI_AGAIN|Name resolution failed/.test(details))
    return new HubUnreachableError(
      'HUB_NAME_NOT_RESOLVED',
      `cannot resolve the host of hub.address ${target.address}: ${details}`,
      unavailable,
      cause,
    );
  if (/ERR_TLS_CERT_ALTNAME_INVALID|does not match certificate's altnames/.test(details)) {
    const names = /cert's (?:altnames|list): (.*)$/.exec(details)?.[1];
    const verified = verifiedName(target);
    return new HubCertificateNameError(
      'HUB_CERTIFICATE_NAME_MISMATCH',
      `the certificate of ${at} does not name "${verified}"${names ? ` (it names ${names})` : ''}: ` +
        'set hub.tls.server_name to a name in the certificate, or dial one of them in hub.address',
      unavailable,
      cause,
    );
  }
  if (
    /unable to verify the first certificate|self[- ]signed certificate|unable to get (local )?issuer certificate|certificate has expired|certificate is not yet valid/.test(
      details,
    )
  )
    return new HubCertificateUntrustedError(
      'HUB_CERTIFICATE_UNTRUSTED',
      `the certificate of ${at} is not trusted (${details}): set hub.tls.ca_file to the CA that signed it`,
      unavailable,
      cause,
    );
  // The hub's TLS alert (OpenSSL's "... alert <name>:..." text) to an agent without a certificate.
  if (/tlsv13 alert certificate required/.test(details))
    return new HubClientCertificateError(
      'HUB_CLIENT_CERTIFICATE_REQUIRED',
      `${at} requires a client certificate (mTLS, its --tls-client-ca): set hub.tls.cert_file and ` +
        'hub.tls.key_file to a certificate signed by that CA and its key',
      unavailable,
      cause,
    );
  // TLS 1.3: the hub checks the client certificate after the agent finished its handshake, and a hub
  // that refuses it (not its --tls-client-ca, expired) may just close the connection, with no alert.
  if (target.tls && target.clientCertificate && /^Failed to connect/.test(details))
    return new HubClientCertificateError(
      'HUB_CLOSED_AFTER_HANDSHAKE',
      `${at} closed the connection after the TLS handshake, most likely refusing this agent's client ` +
        'certificate: hub.tls.cert_file must be signed by the CA the hub checks clients with ' +
        "(--tls-client-ca) and be valid now; the hub's log names the reason",
      unavailable,
      cause,
    );
  if (target.tls && /wrong version number|packet length too long|http request/i.test(details))
    return new HubTlsMismatchError(
      'HUB_SPEAKS_PLAINTEXT',
      `${at} answered without TLS (it runs with --insecure-plaintext): give the hub --tls-cert and --tls-key, ` +
        'or set hub.tls.insecure_plaintext: true on a trusted network',
      unavailable,
      cause,
    );
  if (!target.tls && /^Failed to connect/.test(details))
    return new HubTlsMismatchError(
      'HUB_CONNECTION_FAILED',
      `no plaintext gRPC connection with ${at}: if the hub serves TLS (--tls-cert), remove ` +
        'hub.tls.insecure_plaintext and set hub.tls.ca_file',
      unavailable,
      cause,
    );
  return undefined;
}
