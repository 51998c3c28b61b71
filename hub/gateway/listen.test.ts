// The fallback of the gateway's default listen address where the host has no IPv6. This machine has
// IPv6 (and turning it off would take it from every other process here), so the host's answer is
// played by the bind function: the failure grpc-js reports when the kernel has no IPv6.

import { describe, expect, it } from 'vitest';
import { capturingLogger, startTestHub } from '../../test/support/harness.js';
import { rawAgent } from '../../test/support/raw-agent.js';
import { bindGateway } from './listen.js';

const NO_IPV6 = new Error(
  'No address added out of total 1 resolved errors: [listen EAFNOSUPPORT: address family not supported :::7777]',
);

describe('bindGateway', () => {
  it('listens on every IPv4 address when [::] cannot be bound for want of IPv6, and says so', async () => {
    const tried: string[] = [];
    const { log, lines } = capturingLogger();
    const port = await bindGateway(
      (address) => {
        tried.push(address);
        return address.startsWith('[::]') ? Promise.reject(NO_IPV6) : Promise.resolve(7777);
      },
      '[::]:7777',
      log,
    );
    expect({ port, tried }).toEqual({ port: 7777, tried: ['[::]:7777', '0.0.0.0:7777'] });
    expect(lines.map((l) => l.msg)).toEqual([
      'no IPv6 on this host: the agent gateway listens on every IPv4 address',
    ]);
  });

  it('does not fall back for an address the operator named, nor for another failure', async () => {
    const { log } = capturingLogger();
    const failing = (err: Error) => () => Promise.reject(err);
    await expect(bindGateway(failing(NO_IPV6), '[::1]:7777', log)).rejects.toThrow('EAFNOSUPPORT');
    const inUse = new Error('No address added out of total 1 resolved errors: [listen EADDRINUSE :::7777]');
    await expect(bindGateway(failing(inUse), '[::]:7777', log)).rejects.toThrow('EADDRINUSE');
  });
});

it('takes agents over IPv4 and IPv6 on the default wildcard, one dual-stack socket', async () => {
  const hub = await startTestHub({ grpcListen: '[::]:0' });
  try {
    const token = await hub.newAgentToken('both');
    for (const [address, agentName] of [
      [`127.0.0.1:${hub.grpcPort}`, 'over-ipv4'],
      [`[::1]:${hub.grpcPort}`, 'over-ipv6'],
    ] as const) {
      const raw = rawAgent(address, token, { agentName });
      await raw.next('welcome');
      raw.close();
    }
  } finally {
    await hub.close();
  }
});
