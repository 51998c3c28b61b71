import type { NetworkInterfaceInfo } from 'node:os';
import { describe, expect, it } from 'vitest';
import { replicaUrlOf } from './forward.js';

const address = (family: 'IPv4' | 'IPv6', addr: string, internal = false) =>
  ({ family, address: addr, internal, netmask: '', mac: '', cidr: null }) as unknown as NetworkInterfaceInfo;

const loopback = [address('IPv4', '127.0.0.1', true), address('IPv6', '::1', true)];

describe('replicaUrlOf', () => {
  it('keeps a configured URL or host, bracketing an IPv6 host', () => {
    expect(replicaUrlOf({ replicaUrl: 'https://a.example/' }, new URL('http://[::]:8080'))).toBe(
      'https://a.example',
    );
    expect(replicaUrlOf({ replicaHost: 'fd00::5' }, new URL('http://[::]:8080'))).toBe(
      'http://[fd00::5]:8080',
    );
  });

  it("replaces a wildcard host by the machine's IPv4 address on an IPv4 or dual-stack machine", () => {
    const eth0 = [address('IPv6', 'fe80::1'), address('IPv6', 'fd00::7'), address('IPv4', '10.1.2.3')];
    for (const listening of ['http://0.0.0.0:8080', 'http://[::]:8080'])
      expect(replicaUrlOf({}, new URL(listening), { lo: loopback, eth0 })).toBe('http://10.1.2.3:8080');
  });

  it('replaces a wildcard host by a global IPv6 address on an IPv6-only machine, never a link-local one', () => {
    const eth0 = [address('IPv6', 'fe80::1'), address('IPv6', 'fd00::7')];
    expect(replicaUrlOf({}, new URL('http://[::]:8080'), { lo: loopback, eth0 })).toBe(
      'http://[fd00::7]:8080',
    );
  });
});
