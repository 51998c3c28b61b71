#!/usr/bin/env node
// The agent process: loads its config, starts the agent, owns the signals (SIGTERM drains).

import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { Command } from 'commander';
import { pino } from 'pino';
import { AGENT_VERSION, startAgent } from './agent.js';
import { loadAgentConfig } from './config.js';
import { applyProxyEnv } from './proxy-env.js';

async function main(): Promise<void> {
  const cmd = new Command('outpost-agent')
    .description('The Outpost agent: dials out to a hub and runs the steps it is given on its pools.')
    .version(AGENT_VERSION)
    .requiredOption('-c, --config <file>', 'agent config file (YAML)', process.env.OUTPOST_AGENT_CONFIG)
    .option('--log-level <level>', 'pino log level', process.env.OUTPOST_LOG_LEVEL ?? 'info');
  cmd.parse(process.argv);
  const flags = cmd.opts<{ config: string; logLevel: string }>();
  const config = await loadAgentConfig(flags.config);
  // Before the hub channel exists: grpc-js reads the proxy variables when it dials.
  const proxy = applyProxyEnv(process.env);
  // No `component` here: each module's child logger sets it, and a JSON line must not carry a key twice.
  const log = pino({ level: flags.logLevel, base: { agent: config.name } });
  const agent = await startAgent(config, log);
  log.info(
    { hub: config.hub.address, cluster: config.cluster, proxy, pools: config.pools.map((p) => p.name) },
    'agent started',
  );

  let stopping = false;
  const drain = (signal: string) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: stopping now');
      process.exit(1);
    }
    stopping = true;
    log.info(
      { signal, timeoutSeconds: config.drainTimeoutSeconds },
      'draining: finishing held steps, taking no new work',
    );
    agent.drain(config.drainTimeoutSeconds * 1000).then(
      () => {
        log.info('agent stopped');
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, 'error while draining');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => drain('SIGTERM'));
  process.on('SIGINT', () => drain('SIGINT'));
}

if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`outpost-agent: ${(err as Error).message}\n`);
    process.exit(1);
  });
}
