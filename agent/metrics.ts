// The agent's Prometheus metrics, created once by the composition root.

import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

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
    stepsRunning: new Gauge({
      name: 'outpost_agent_steps_running',
      help: 'Steps held by the agent',
      registers: [registry],
    }),
  };
}

export type AgentMetrics = ReturnType<typeof createAgentMetrics>;
