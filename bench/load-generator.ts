// The steps/s measurement's load generator, a process of its own (bench/throughput.ts forks it): the
// protocol-level agents that finish every step at once and the HTTP client that triggers one-step builds,
// as users have agents and clients on other processes than `outpost-hub`. It talks to its parent over
// Node's IPC channel: one `run` at a time, answered when every build's step has been acknowledged.

import { BenchAgent } from './proto-agent.js';
import { HubApi, within } from './support.js';

export interface LoadGeneratorConfig {
  url: string;
  apiToken: string;
  grpcAddress: string;
  agentToken: string;
  agents: number;
  capacity: number;
  /** HTTP triggers in flight at once. */
  concurrency: number;
  pipeline: string;
  job: string;
}

/** Parent -> generator. */
export type LoadRequest = { run: number } | { close: true };

/** Generator -> parent. */
export type LoadReply =
  | { ready: true }
  /** `count` builds triggered and each one's step end acknowledged; this process's CPU meanwhile. */
  | { ran: number; buildIds: number[]; cpuMs: number }
  | { error: string };

function reply(message: LoadReply): void {
  process.send?.(message);
}

async function main(config: LoadGeneratorConfig): Promise<void> {
  const api = new HubApi(config.url, config.apiToken);
  let acked = 0;
  let ackWaiter: { want: number; resolve: () => void } | undefined;
  const agents = Array.from({ length: config.agents }, (_, i) => {
    const agent: BenchAgent = new BenchAgent({
      address: config.grpcAddress,
      token: config.agentToken,
      name: `tp-agent-${i}`,
      capacity: config.capacity,
      ownConnection: true,
      handlers: {
        assign: (assign) => agent.acceptAndFinish(assign),
        // The hub acknowledges a Finished once the step's end is stored.
        finishedAck: () => {
          acked++;
          if (ackWaiter && acked >= ackWaiter.want) ackWaiter.resolve();
        },
      },
    });
    return agent;
  });
  await within(30_000, 'load generator agents welcome', Promise.all(agents.map((a) => a.welcome)));

  const run = async (count: number): Promise<LoadReply> => {
    const cpu = process.cpuUsage();
    const allAcked = new Promise<void>((resolve) => (ackWaiter = { want: acked + count, resolve }));
    const buildIds: number[] = [];
    let next = 0;
    const worker = async () => {
      while (next++ < count) buildIds.push(await api.trigger(config.pipeline, config.job));
    };
    await Promise.all(Array.from({ length: config.concurrency }, worker));
    await allAcked;
    const used = process.cpuUsage(cpu);
    return { ran: count, buildIds, cpuMs: (used.user + used.system) / 1000 };
  };

  process.on('message', (message: LoadRequest) => {
    if ('close' in message) {
      for (const agent of agents) agent.close();
      process.disconnect();
      return;
    }
    run(message.run).then(reply, (err: unknown) => reply({ error: String(err) }));
  });
  reply({ ready: true });
}

const config = JSON.parse(process.argv[2] ?? '{}') as LoadGeneratorConfig;
main(config).catch((err: unknown) => {
  reply({ error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  process.exitCode = 1;
});
