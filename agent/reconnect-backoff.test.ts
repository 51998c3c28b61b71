// The agent's channel retries the hub often while the hub is away (an upgrade, a restart): grpc-js's own
// backoff, by default growing to 120 s, kept an agent away up to a minute after its hub was back.
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { credentials } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { HUB_RECONNECT_BACKOFF } from './agent.js';
import { GatewayClient } from './session/gateway-client.js';

/** Long enough that grpc-js's default backoff (1, 1.6, 2.6, 4.1, then 6.5 s) shows a gap over 5 s. */
const WATCH_MS = 16_000;

let server: Server | undefined;
afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

describe("the agent's channel to the hub", () => {
  it('tries the hub again at most a few seconds apart while it is away', { timeout: 40_000 }, async () => {
    // A hub that is not there yet: every connection is accepted and dropped at once, and counted.
    const attempts: number[] = [];
    server = createServer((socket) => {
      attempts.push(Date.now());
      socket.destroy();
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const client = new GatewayClient(
      `127.0.0.1:${port}`,
      credentials.createInsecure(),
      HUB_RECONNECT_BACKOFF,
    );
    try {
      // waitForReady keeps the channel connecting until its deadline, as the session's calls do.
      const gaveUp = new Promise<void>((resolve) =>
        client.waitForReady(Date.now() + WATCH_MS, () => resolve()),
      );
      await gaveUp;
    } finally {
      client.close();
    }
    expect(attempts.length, 'no connection attempt reached the server').toBeGreaterThan(0);
    const gaps = attempts.slice(1).map((t, i) => t - attempts[i]!);
    gaps.push(Date.now() - attempts.at(-1)!);
    // The backoff is capped at 2 s (grpc-js adds up to 20% jitter); 5 s leaves room for a loaded machine.
    expect(Math.max(...gaps), `gaps between attempts: ${gaps.join(', ')} ms`).toBeLessThan(5_000);
  });
});
