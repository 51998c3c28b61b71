// The steps/s measurement's load generator, a process of its own (bench/throughput.ts forks it): the
// protocol-level agents that finish every step at once and the HTTP client that triggers one-step builds,
// as users have agents and clients on other processes than `outpost-hub`. It talks to its parent over
// Node's IPC channel: one `run` at a time, answered when every build's step has been acknowledged.
//
// Per build it makes one HTTP request, `POST /api/v1/teams/main/pipelines/P/jobs/J/builds` with the API
// token (as `outpost trigger-job` does; its 201's JSON gives the build id), on one of `concurrency`
// keep-alive connections; and one of its agents takes the step over gRPC as a real agent does: Accept,
// Started, Finished (exit 0), then the hub's FinishedAck (bench/proto-agent.ts). The HTTP client is
// undici's Pool driven through `dispatch`, without fetch's WHATWG request and stream objects: fetch
// was a fifth of this process's busy time (docs/performance.md, session 11).

import { Pool } from 'undici';
import { BenchAgent } from './proto-agent.js';
import { within } from './support.js';

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

/** Triggers the job through the API over `connections` keep-alive connections; resolves with the build id. */
function jobTrigger(config: LoadGeneratorConfig, connections: number) {
  const pool = new Pool(new URL(config.url).origin, { connections });
  const request = {
    method: 'POST',
    path: `/api/v1/teams/main/pipelines/${encodeURIComponent(config.pipeline)}/jobs/${encodeURIComponent(config.job)}/builds`,
    headers: { authorization: `Bearer ${config.apiToken}` },
  } as const;
  const trigger = () =>
    new Promise<number>((resolve, reject) => {
      let status = 0;
      const chunks: Buffer[] = [];
      pool.dispatch(request, {
        onConnect: () => undefined,
        onError: reject,
        onHeaders: (statusCode) => {
          status = statusCode;
          return true;
        },
        onData: (chunk) => {
          chunks.push(chunk);
          return true;
        },
        onComplete: () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (status === 201) resolve((JSON.parse(text) as { id: number }).id);
          else reject(new Error(`trigger ${config.pipeline}/${config.job}: HTTP ${status} ${text}`));
        },
      });
    });
  return { trigger, close: () => pool.close() };
}

async function main(config: LoadGeneratorConfig): Promise<void> {
  const api = jobTrigger(config, config.concurrency);
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
      while (next++ < count) buildIds.push(await api.trigger());
    };
    await Promise.all(Array.from({ length: config.concurrency }, worker));
    await allAcked;
    const used = process.cpuUsage(cpu);
    return { ran: count, buildIds, cpuMs: (used.user + used.system) / 1000 };
  };

  process.on('message', (message: LoadRequest) => {
    if ('close' in message) {
      for (const agent of agents) agent.close();
      const disconnect = () => process.disconnect();
      api.close().then(disconnect, disconnect);
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
