// The hub's Prometheus metrics, in one registry created by main.ts and handed to each component.

import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export function createHubMetrics(registry = new Registry()) {
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    agentsConnected: new Gauge({
      name: 'outpost_hub_agents_connected',
      help: 'Connected agent sessions',
      registers: [registry],
    }),
    sessionsTotal: new Counter({
      name: 'outpost_hub_agent_sessions_total',
      help: 'Agent sessions opened (a reconnect opens a new one)',
      registers: [registry],
    }),
    authFailures: new Counter({
      name: 'outpost_hub_agent_auth_failures_total',
      help: 'Agent calls rejected as UNAUTHENTICATED',
      registers: [registry],
    }),
    agentRefusals: new Counter({
      name: 'outpost_hub_agent_refusals_total',
      help:
        'Authenticated agent claims refused: a Hello beyond its token (reason = the field), an identity ' +
        'held by another token, an artifact call for a lease not its own, a side call naming another token’s ' +
        'session, a tunnel opened by an agent other than the step’s, output digests that differ from the uploads',
      labelNames: ['reason'],
      registers: [registry],
    }),
    queueDepth: new Gauge({
      name: 'outpost_hub_queue_depth',
      help: 'Steps waiting for an agent',
      registers: [registry],
    }),
    dispatchLatency: new Histogram({
      name: 'outpost_hub_dispatch_latency_seconds',
      help: 'From a step becoming ready to its Assign being sent',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5, 30],
      registers: [registry],
    }),
    leaseExpiries: new Counter({
      name: 'outpost_hub_lease_expiries_total',
      help: 'Leases that expired: unaccepted assignments re-queued, or steps errored after the grace',
      labelNames: ['kind'],
      registers: [registry],
    }),
    logChunks: new Counter({
      name: 'outpost_hub_log_chunks_total',
      help: 'Log chunks stored',
      registers: [registry],
    }),
    logDuplicates: new Counter({
      name: 'outpost_hub_log_duplicates_total',
      help: 'Log chunks dropped as already stored (resends after a reconnect)',
      registers: [registry],
    }),
    staleMessages: new Counter({
      name: 'outpost_hub_stale_lease_messages_total',
      help: 'Agent messages refused because their lease is no longer valid',
      registers: [registry],
    }),
    agentReconnects: new Counter({
      name: 'outpost_hub_agent_reconnects_total',
      help: 'Sessions of an agent that had a session with this hub process before',
      registers: [registry],
    }),
    resultResends: new Counter({
      name: 'outpost_hub_result_resends_total',
      help: 'Finished messages for a result already recorded (acknowledged again, not applied)',
      registers: [registry],
    }),
    messagesRejected: new Counter({
      name: 'outpost_hub_messages_rejected_total',
      help: 'Agent messages refused by a limit; the session ends (RESOURCE_EXHAUSTED; handling_timeout: UNAVAILABLE)',
      labelNames: ['reason'],
      registers: [registry],
    }),
    logBatches: new Histogram({
      name: 'outpost_hub_log_batch_chunks',
      help: 'Log chunks written per store transaction (group commit)',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512],
      registers: [registry],
    }),
    logThrottled: new Counter({
      name: 'outpost_hub_log_throttled_total',
      help: 'Times a session stopped reading because its log bytes in flight reached the per-session budget',
      registers: [registry],
    }),
    logBytesDropped: new Counter({
      name: 'outpost_hub_log_bytes_dropped_total',
      help: 'Log bytes acknowledged but not stored because their build reached the log cap',
      registers: [registry],
    }),
    logTruncatedBuilds: new Counter({
      name: 'outpost_hub_log_truncated_builds_total',
      help: 'Builds whose log reached the per-build cap',
      registers: [registry],
    }),
    auditRepairs: new Counter({
      name: 'outpost_hub_audit_repairs_total',
      help: 'Builds and step runs the periodic audit found inconsistent and repaired, by kind',
      labelNames: ['kind'],
      registers: [registry],
    }),
    auditRuns: new Counter({
      name: 'outpost_hub_audit_runs_total',
      help: 'Audit passes completed',
      registers: [registry],
    }),
    stepsFinished: new Counter({
      name: 'outpost_hub_steps_finished_total',
      help: 'Step runs that reached a final status',
      labelNames: ['status'],
      registers: [registry],
    }),
  };
}

export type HubMetrics = ReturnType<typeof createHubMetrics>;

/**
 * `--metrics-listen`: /metrics on an address of its own, without a token, for a scraper in a trusted
 * network (the API's /metrics needs one). Nothing else is served there.
 */
export async function serveMetrics(
  metrics: HubMetrics,
  listen: { host: string; port: number },
): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('only /metrics is served here\n');
      return;
    }
    metrics.registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
      () => res.writeHead(500).end(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, resolve);
  });
  const { port } = server.address() as AddressInfo;
  const host = listen.host.includes(':') ? `[${listen.host}]` : listen.host;
  return {
    url: `http://${host}:${port}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
