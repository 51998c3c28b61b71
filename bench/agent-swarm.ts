// A child process of the many-agents bench (bench/many-agents.ts): it holds a share of the idle agent
// sessions, each an idle agent (bench/idle-agent.ts) on an HTTP/2 connection of its own, with TLS as
// agents run it, heartbeating at the Welcome's interval. Several of these processes share the
// load, so the figure measures the hub, not one client process's event loop. A session that ends is
// opened again after a short random wait, as a real agent reconnects.
//
// Parent -> child (IPC): { open: N } opens N more sessions (in waves, so the hub's Hello timeout never
// trips on a queue of handshakes) and answers { open: total } once every one is welcomed;
// { steady: true } starts counting sessions that end; { lost: true } answers { lost: count }. A child
// that cannot get a session welcomed answers { failed: reason }.

import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { IdleAgent } from './idle-agent.js';

interface SwarmConfig {
  address: string;
  token: string;
  /** PEM of the CA the hub's certificate chains to (a self-signed certificate is its own). */
  caFile: string;
  /** Names are `${prefix}-${n}`, unique across the swarm's processes. */
  prefix: string;
  /** Sessions opened at once. */
  wave: number;
}

/** Tries to get one session welcomed before the child gives up on the run. */
const TRIES = 20;

const config = JSON.parse(process.env.OUTPOST_SWARM ?? '{}') as SwarmConfig;
const ca = readFileSync(config.caFile);
const sessions = new Map<string, IdleAgent>();
let names = 0;
let stopping = false;
let steady = false;
/** Sessions that ended once the parent said the swarm is steady: the figure is void if any did. */
let lost = 0;

const tell = (message: object) => process.send?.(message);

/** One agent's session, welcomed (opened again after a random wait each time it ends). */
async function connect(name: string): Promise<void> {
  for (let tries = 1; ; tries++) {
    const agent = new IdleAgent({ address: config.address, token: config.token, name, ca });
    sessions.set(name, agent);
    const welcomed = await Promise.race([agent.welcome.then(() => true), agent.ended.then(() => false)]);
    if (welcomed) {
      void agent.ended.then(async () => {
        if (stopping) return;
        if (steady) lost++;
        await sleep(200 + Math.random() * 2_000);
        await connect(name).catch(() => undefined);
      });
      return;
    }
    agent.close();
    if (tries === TRIES) throw new Error(`${name}: no Welcome in ${TRIES} tries`);
    await sleep(200 + Math.random() * 2_000);
  }
}

async function open(count: number): Promise<void> {
  for (let left = count; left > 0;) {
    const wave = Math.min(config.wave, left);
    left -= wave;
    await Promise.all(Array.from({ length: wave }, () => connect(`${config.prefix}-${names++}`)));
  }
}

process.on('message', (message: { open?: number; steady?: true; lost?: true }) => {
  if (message.steady) steady = true;
  if (message.lost) tell({ lost });
  if (message.open !== undefined)
    open(message.open).then(
      () => tell({ open: sessions.size }),
      (err: unknown) => tell({ failed: (err as Error).message }),
    );
});
process.on('SIGTERM', () => {
  stopping = true;
  for (const session of sessions.values()) session.close();
  process.exit(0);
});
process.on('disconnect', () => process.exit(0));
tell({ ready: true });
