import type { Command } from 'commander';
import type { AgentTokenSummary } from '../../hub/api/types.js';
import { parsePositiveInt, type CliContext } from '../context.js';
import { renderTable } from '../render/table.js';
import { formatAge, formatDateTime, toMillis } from '../render/time.js';

function tokenRow(t: AgentTokenSummary, nowMs: number): string[] {
  return [
    String(t.id),
    t.name,
    t.team ?? '(all teams)',
    formatDateTime(toMillis(t.createdAt)),
    t.lastUsedAt === null ? 'never' : formatAge(nowMs, toMillis(t.lastUsedAt)),
    t.revokedAt === null ? 'active' : `revoked ${formatDateTime(toMillis(t.revokedAt))}`,
  ];
}

export function registerAgentTokens(program: Command, ctx: CliContext): void {
  const group = program
    .command('agent-tokens')
    .description('Manage the tokens agents use to connect to the hub')
    .addHelpText(
      'after',
      `
Examples:
  outpost agent-tokens create --name eu-cluster --team main
  outpost agent-tokens list
  outpost agent-tokens revoke 3`,
    );

  group
    .command('create')
    .description('Create an agent token and print its secret (shown only this once)')
    .requiredOption('--name <name>', 'a name to recognise the token by')
    .option('--team <team>', 'scope the token to one team (default: all teams)')
    .addHelpText('after', '\nExample:\n  outpost agent-tokens create --name eu-cluster --team main')
    .action(async (opts: { name: string; team?: string }, cmd: Command) => {
      const client = await ctx.client(cmd);
      const created = await client.createAgentToken({
        name: opts.name,
        ...(opts.team !== undefined ? { team: opts.team } : {}),
      });
      const scope = created.team === null ? 'all teams' : `team ${created.team}`;
      ctx.out(`created agent token ${created.name} (id ${created.id}, ${scope})\n`);
      ctx.out(`token: ${created.token}\n`);
      ctx.err("warning: this token will not be shown again; store it now (e.g. as the agent's secret)\n");
    });

  group
    .command('list')
    .description('List agent tokens (never their secrets)')
    .option('--json', 'print the raw JSON array')
    .addHelpText('after', '\nExample:\n  outpost agent-tokens list')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const client = await ctx.client(cmd);
      const tokens = await client.listAgentTokens();
      if (opts.json === true) {
        ctx.out(JSON.stringify(tokens, null, 2) + '\n');
        return;
      }
      const now = ctx.now();
      ctx.out(
        renderTable(
          ['id', 'name', 'team', 'created', 'last used', 'state'],
          tokens.map((t) => tokenRow(t, now)),
          ctx.style,
        ),
      );
    });

  group
    .command('revoke')
    .description('Revoke an agent token')
    .argument('<id>', 'the token id (see agent-tokens list)')
    .addHelpText('after', '\nExample:\n  outpost agent-tokens revoke 3')
    .action(async (idText: string, _opts: unknown, cmd: Command) => {
      const id = parsePositiveInt(idText, 'token id');
      const client = await ctx.client(cmd);
      await client.revokeAgentToken(id);
      ctx.out(`revoked agent token ${id}\n`);
    });
}
