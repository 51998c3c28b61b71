// What the test/ha files ask of a set of hub replicas (child processes): readiness, which one leads,
// and what each said when a test fails.

import type { ChildHubProcess } from '../support/child-hub.js';
import { eventually } from '../support/eventually.js';

export interface Readiness {
  status: number;
  body: { ready: boolean; leading?: boolean };
}

export async function readiness(hub: ChildHubProcess): Promise<Readiness> {
  const res = await fetch(`${hub.url}/readyz`);
  return { status: res.status, body: (await res.json()) as Readiness['body'] };
}

/** The index of the one replica that leads, once exactly one does. */
export function leaderIndex(hubs: ChildHubProcess[]): Promise<number> {
  return eventually('a replica to lead', async () => {
    const states = await Promise.all(hubs.map(readiness));
    const leading = states.flatMap((s, i) => (s.body.leading ? [i] : []));
    return leading.length === 1 ? leading[0] : undefined;
  });
}

/** Prints each replica's last output, for a failure that is a replica's (a crash, a refusal it logged). */
export function printReplicaOutput(hubs: ChildHubProcess[]): void {
  for (const [i, hub] of hubs.entries())
    console.log(
      `replica ${i} (exit ${hub.child.exitCode ?? hub.child.signalCode ?? 'none'}):\n${hub.output().slice(-4000)}`,
    );
}
