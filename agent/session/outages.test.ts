import { status } from '@grpc/grpc-js';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { DeliveryError, HubLink, deliver, type DeliveryContext } from './outages.js';

const unavailable = () =>
  Object.assign(new Error('14 UNAVAILABLE: connect ECONNREFUSED'), { code: status.UNAVAILABLE });

function context(link: HubLink, giveUp = new AbortController(), graceMs = 60_000): DeliveryContext {
  return { link, graceMs: () => graceMs, giveUp: giveUp.signal, log: pino({ level: 'silent' }) };
}

describe('deliver', () => {
  it('waits for the next Welcome while the hub is away, then tries again', async () => {
    const link = new HubLink();
    let tries = 0;
    const delivered = deliver(
      'output "out"',
      () => (++tries === 1 ? Promise.reject(unavailable()) : Promise.resolve('stored')),
      context(link),
    );
    await new Promise((r) => setTimeout(r, 50));
    expect(tries).toBe(1); // no spinning while no session is welcomed
    link.welcomed();
    await expect(delivered).resolves.toBe('stored');
    expect(tries).toBe(2);
  });

  it('fails at once, naming the call, on a refusal no retry can fix', async () => {
    const link = new HubLink();
    link.welcomed();
    const tooLarge = Object.assign(new Error('8 RESOURCE_EXHAUSTED: artifact too large'), {
      code: status.RESOURCE_EXHAUSTED,
    });
    await expect(deliver('output "out"', () => Promise.reject(tooLarge), context(link))).rejects.toThrow(
      'output "out": 8 RESOURCE_EXHAUSTED: artifact too large',
    );
  });

  it('gives up after the lease grace while connected, with the last cause', async () => {
    const link = new HubLink();
    link.welcomed();
    const err = await deliver(
      'output "out"',
      () => Promise.reject(unavailable()),
      context(link, undefined, 300),
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeliveryError);
    expect((err as Error).message).toMatch(
      /^output "out": still failing after the lease grace \(0s, \d+ tries\): 14 UNAVAILABLE: connect ECONNREFUSED$/,
    );
  });

  it('stops waiting when the step is given up (dropped, or the agent shuts down)', async () => {
    const link = new HubLink();
    const giveUp = new AbortController();
    const delivered = deliver('output "out"', () => Promise.reject(unavailable()), context(link, giveUp));
    giveUp.abort(new Error('agent shut down'));
    await expect(delivered).rejects.toThrow(
      'output "out": gave up waiting for the hub (agent shut down); last error: 14 UNAVAILABLE: connect ECONNREFUSED',
    );
  });
});
