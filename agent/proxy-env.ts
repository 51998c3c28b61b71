// The egress proxy for the hub connection, from the environment. grpc-js (which carries the session and
// the artifact calls) reads only the lower-case grpc_proxy/https_proxy/http_proxy and no_proxy, and
// silently dials direct when a value is upper-case only, not a URL, or not http:// — behind a proxy
// that is a connection that hangs or is refused with no word about the proxy. So, once at start:
// upper-case values are copied to the lower-case names grpc-js reads, and the one it will use is checked.

const NAMES = ['http_proxy', 'https_proxy', 'no_proxy'] as const;

export class ProxyEnvError extends Error {
  override readonly name = 'ProxyEnvError';
}

/**
 * Fills each unset lower-case proxy variable from its upper-case form, in place, and returns the proxy
 * grpc-js will use (credentials hidden, for the log), or undefined. Throws ProxyEnvError when that
 * value is one grpc-js would ignore.
 */
export function applyProxyEnv(env: NodeJS.ProcessEnv): string | undefined {
  for (const name of NAMES) {
    const upper = env[name.toUpperCase()];
    if (!env[name] && upper) env[name] = upper;
  }
  // grpc-js's order (http_proxy.ts getProxyInfo).
  const variable = (['grpc_proxy', 'https_proxy', 'http_proxy'] as const).find((n) => env[n]);
  const value = variable && env[variable];
  if (!variable || !value) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ProxyEnvError(`${variable} is not a URL: ${JSON.stringify(redact(value))}`);
  }
  if (url.protocol !== 'http:') {
    throw new ProxyEnvError(
      `${variable} must be an http:// URL (the hub connection speaks HTTP CONNECT to the proxy): ${JSON.stringify(redact(value))}`,
    );
  }
  const credentials = url.username || url.password ? '***@' : '';
  return `${url.protocol}//${credentials}${url.host}`;
}

function redact(value: string): string {
  return value.replace(/\/\/[^@/]*@/, '//***@');
}
