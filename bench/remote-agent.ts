// A protocol-level bench agent in a process of its own (bench/floor.ts and bench/dispatch.ts fork it), so
// the floor's round trip and dispatch are measured as users run them: the hub (or the bare echo server)
// and the agent on different processes and event loops. It talks to its parent over Node's IPC channel.
//
// - `floor`: ping-pong heartbeats with the echo server, one in flight at a time; answers the round trips.
// - `dispatch`: accepts and finishes every Assign at once, as bench/dispatch.ts's in-process agent does,
//   and answers, per Assign, its build and its arrival on the clock shared by processes
//   (support.ts sharedClockMs), with the time since this agent's previous Finished of that build.

import { BenchAgent, finishingAgent, HeartbeatEcho, type AssignArrival } from './proto-agent.js';
import { within } from './support.js';

export interface RemoteAgentConfig {
  mode: 'floor' | 'dispatch';
  address: string;
  token: string;
}

/** Parent -> agent. */
export type RemoteRequest =
  { pingPong: { warmup: number; samples: number } } | { arrivals: true } | { close: true };

/** Agent -> parent. */
export type RemoteReply =
  { ready: true } | { rttMs: number[] } | { arrivals: AssignArrival[] } | { error: string };

function reply(message: RemoteReply): void {
  process.send?.(message);
}

async function main(config: RemoteAgentConfig): Promise<void> {
  const echo = new HeartbeatEcho();
  const common = {
    address: config.address,
    token: config.token,
    name: `${config.mode}-agent`,
    capacity: 1,
    ownConnection: true,
  };
  const { agent, arrivals } =
    config.mode === 'floor'
      ? { agent: new BenchAgent({ ...common, handlers: { heartbeat: echo.handler } }), arrivals: [] }
      : finishingAgent(common);
  // The echo server answers heartbeats without a Welcome; the hub welcomes first.
  if (config.mode === 'dispatch') await within(10_000, `${config.mode} agent welcome`, agent.welcome);

  process.on('message', (message: RemoteRequest) => {
    if ('close' in message) {
      agent.close();
      process.disconnect();
    } else if ('arrivals' in message) reply({ arrivals: arrivals.splice(0) });
    else
      within(
        30_000,
        'floor ping-pong',
        echo.roundTrips(agent, message.pingPong.warmup, message.pingPong.samples),
      ).then(
        (rttMs) => reply({ rttMs }),
        (err: unknown) => reply({ error: String(err) }),
      );
  });
  reply({ ready: true });
}

const config = JSON.parse(process.argv[2] ?? '{}') as RemoteAgentConfig;
main(config).catch((err: unknown) => {
  reply({ error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  process.exitCode = 1;
});
