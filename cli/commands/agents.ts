import type { Command } from 'commander';
import type { AgentPoolSummary, AgentSummary } from '../../hub/api/types.js';
import type { CliContext } from '../context.js';
import { formatAge, toMillis } from '../render/time.js';

export function formatPool(p: AgentPoolSummary): string {
  const base = `${p.name}(${p.platform} tags=[${p.tags.join(',')}]) ${p.inUse}/${p.capacity}`;
  return p.admission ? `${base} admission: ${formatAdmission(p.admission)}` : base;
}

/** "ok", or the refusal / the reason it could not be checked, in the API server's words. */
function formatAdmission(a: NonNullable<AgentPoolSummary['admission']>): string {
  if (a.verdict === 'admitted') return 'ok';
  return `${a.verdict === 'refused' ? 'refused' : 'unknown'}: ${a.message}`;
}

export function agentRow(a: AgentSummary, nowMs: number): string[] {
  return [
    a.name,
    a.cluster,
    a.pools.length === 0 ? 'none' : a.pools.map(formatPool).join(', '),
    a.state,
    a.lastHeartbeatAt === null ? 'never' : formatAge(nowMs, toMillis(a.lastHeartbeatAt)),
  ];
}

export function registerAgents(program: Command, ctx: CliContext): void {
  program
    .command('agents')
    .description('List the agents known to the hub, their pools (in use/capacity) and last heartbeat')
    .option('--json', 'print the raw JSON array')
    .addHelpText(
      'after',
      `
Example:
  outpost agents
  name     cluster  pools                             state      last heartbeat
  agent-1  eu-1     default(linux tags=[ssd]) 1/4     connected  3s ago`,
    )
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const client = await ctx.client(cmd);
      const agents = await client.listAgents();
      if (opts.json === true) {
        ctx.out(JSON.stringify(agents, null, 2) + '\n');
        return;
      }
      const now = ctx.now();
      ctx.out(
        ctx.table(
          ['name', 'cluster', 'pools', 'state', 'last heartbeat'],
          agents.map((a) => agentRow(a, now)),
        ),
      );
    });
}
