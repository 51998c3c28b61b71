// A hub child process (child-hub.ts) dressed as the TestHub the in-process harness gives, so a test can
// run the same steps against a hub it may SIGKILL.

import { rm } from 'node:fs/promises';
import { adminTokenOf, callApi, spawnChildHub, type ChildHubProcess } from './child-hub.js';
import type { TestHub } from './harness.js';

/**
 * A hub child process dressed as a TestHub for what tests use of it (url, grpcPort, adminToken, api,
 * newAgentToken, stop, close): it has no `store` (read the API instead). stop() SIGKILLs it; close()
 * also removes its data directory.
 */
export async function startChildTestHub(
  dir: string,
  opts: { ports?: { http: number; grpc: number }; args?: string[]; readyTimeoutMs?: number } = {},
): Promise<{ hub: TestHub; proc: ChildHubProcess }> {
  const proc = await spawnChildHub(dir, {
    httpPort: opts.ports?.http,
    grpcPort: opts.ports?.grpc,
    args: opts.args,
    readyTimeoutMs: opts.readyTimeoutMs,
  });
  const adminToken = await adminTokenOf(dir);
  const api = <T>(method: string, route: string, body?: unknown) =>
    callApi<T>(proc.url, adminToken, method, route, body);
  const kill = async () => {
    if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill('SIGKILL');
    await proc.exited;
  };
  const hub = {
    url: proc.url,
    grpcPort: proc.grpcPort,
    grpcAddress: `127.0.0.1:${proc.grpcPort}`,
    adminToken,
    dir,
    api,
    stop: kill,
    async newAgentToken(name = 'test') {
      const res = await api<{ token: string }>('POST', '/agent-tokens', { name });
      if (res.status !== 201) throw new Error(`token create failed: ${JSON.stringify(res.body)}`);
      return res.body.token;
    },
    async close() {
      await kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return { hub: hub as unknown as TestHub, proc };
}
