// The agent's Prometheus metrics, created once by the composition root.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export function createAgentMetrics(registry = new Registry()) {
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    connected: new Gauge({
      name: 'outpost_agent_connected',
      help: '1 while a session with the hub is up',
      registers: [registry],
    }),
    reconnects: new Counter({
      name: 'outpost_agent_reconnects_total',
      help: 'Session attempts after the first',
      registers: [registry],
    }),
    resumedSteps: new Counter({
      name: 'outpost_agent_resumed_steps_total',
      help: 'Steps carried across a reconnect',
      registers: [registry],
    }),
    logResends: new Counter({
      name: 'outpost_agent_log_resends_total',
      help: 'Log chunks sent again after a reconnect',
      registers: [registry],
    }),
    dispatchLatency: new Histogram({
      name: 'outpost_agent_dispatch_latency_seconds',
      help: 'From an Assign received to the step started (Started sent)',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120],
      registers: [registry],
    }),
    assignmentsRejected: new Counter({
      name: 'outpost_agent_assignments_rejected_total',
      help: 'Assignments the agent turned down (at capacity, draining, unknown pool)',
      registers: [registry],
    }),
    leasesRevoked: new Counter({
      name: 'outpost_agent_leases_revoked_total',
      help: 'Leases the hub revoked or dropped (expired, re-queued, aborted elsewhere)',
      registers: [registry],
    }),
    goAways: new Counter({
      name: 'outpost_agent_hub_goaways_total',
      help: 'GoAway messages from the hub (hub shutdown, or a newer session replaced this one)',
      registers: [registry],
    }),
    sessionErrors: new Counter({
      name: 'outpost_agent_session_errors_total',
      help: 'Sessions that ended with an error, by gRPC status code',
      labelNames: ['code'],
      registers: [registry],
    }),
    artifactRetries: new Counter({
      name: 'outpost_agent_artifact_retries_total',
      help: 'Output uploads and input downloads tried again after a failure (hub restarting or unreachable)',
      registers: [registry],
    }),
    stepsRunning: new Gauge({
      name: 'outpost_agent_steps_running',
      help: 'Steps held by the agent',
      registers: [registry],
    }),
  };
}

export type AgentMetrics = ReturnType<typeof createAgentMetrics>;
