import type { Command } from 'commander';
import type { AgentTokenBounds, AgentTokenSummary, CreateAgentTokenRequest } from '../../hub/api/types.js';
import { parsePositiveInt, type CliContext } from '../context.js';
import { CliError } from '../io.js';
import { formatAge, formatDateTime, parseLifetime, toMillis } from '../render/time.js';

/** What the token's agent may claim, in one cell: `anything` for a token created without bounds. */
export function describeBounds(bounds: AgentTokenBounds | null): string {
  if (!bounds) return 'anything';
  const parts = [
    bounds.agent ?? (bounds.agentPrefix !== undefined ? `${bounds.agentPrefix}*` : 'any name'),
    bounds.pools && `pools ${bounds.pools.join(',') || '(none)'}`,
    bounds.platforms && `platforms ${bounds.platforms.join(',') || '(none)'}`,
    bounds.tags && `tags ${bounds.tags.join(',') || '(none)'}`,
    bounds.maxCapacity !== undefined && `capacity <= ${bounds.maxCapacity}`,
  ];
  return parts.filter((p): p is string => typeof p === 'string').join('; ');
}

function tokenRow(t: AgentTokenSummary, nowMs: number): string[] {
  return [
    String(t.id),
    t.name,
    t.team ?? '(all teams)',
    describeBounds(t.bounds),
    formatDateTime(toMillis(t.createdAt)),
    t.lastUsedAt === null ? 'never' : formatAge(nowMs, toMillis(t.lastUsedAt)),
    t.expiresAt === null ? 'never' : formatDateTime(toMillis(t.expiresAt)),
    t.revokedAt !== null
      ? `revoked ${formatDateTime(toMillis(t.revokedAt))}`
      : t.expiresAt !== null && toMillis(t.expiresAt) <= nowMs
        ? 'expired'
        : 'active',
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
  outpost agent-tokens create --name eu-1 --agent-prefix eu-1/outpost-agent- --pools linux --max-capacity 20
  outpost agent-tokens list
  outpost agent-tokens revoke 3`,
    );

  group
    .command('create')
    .description('Create an agent token and print its secret (shown only this once)')
    .requiredOption('--name <name>', 'a name to recognise the token by')
    .option('--team <team>', 'scope the token to one team (default: all teams)')
    .option('--agent <cluster/name>', 'the one agent identity the token may connect as')
    .option('--agent-prefix <cluster/prefix>', "or identities starting with this (a StatefulSet's pods)")
    .option('--pools <names>', 'comma-separated pool names the agent may offer')
    .option('--platforms <names>', 'comma-separated platforms (linux, windows, darwin) its pools may have')
    .option('--tags <tags>', 'comma-separated tags its pools may carry ("" for none)')
    .option('--max-capacity <n>', 'the most steps at once over all its pools')
    .option('--expires-in <duration>', 'expire after this long, like 365d, 12h or 90m (default: never)')
    .option('--expires-at <date>', 'or expire at this date/time (2027-06-30, ISO 8601; a date alone is UTC)')
    .addHelpText(
      'after',
      `
Without --agent/--agent-prefix, --pools, --platforms, --tags or --max-capacity the agent may claim
anything there; the hub refuses a Hello that claims more than its token allows. An expired token is
refused (its agent logs "agent token NAME expired at ...", and its live sessions end): rotate before.

Examples:
  outpost agent-tokens create --name eu-cluster --team main
  outpost agent-tokens create --name eu-1 --agent-prefix eu-1/outpost-agent- --pools linux --max-capacity 20
  outpost agent-tokens create --name mac-mini --agent office/mac-mini-1 --platforms darwin --tags ""
  outpost agent-tokens create --name eu-1-2027 --agent-prefix eu-1/outpost-agent- --expires-in 365d`,
    )
    .action(async (opts: CreateOptions, cmd: Command) => {
      const client = await ctx.client(cmd);
      const created = await client.createAgentToken(createRequest(opts));
      const scope = created.team === null ? 'all teams' : `team ${created.team}`;
      const expires =
        created.expiresAt === null ? '' : `, expires ${formatDateTime(toMillis(created.expiresAt))}`;
      ctx.out(`created agent token ${created.name} (id ${created.id}, ${scope}${expires})\n`);
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
        ctx.table(
          ['id', 'name', 'team', 'may claim', 'created', 'last used', 'expires', 'state'],
          tokens.map((t) => tokenRow(t, now)),
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

interface CreateOptions {
  name: string;
  team?: string;
  agent?: string;
  agentPrefix?: string;
  pools?: string;
  platforms?: string;
  tags?: string;
  maxCapacity?: string;
  expiresIn?: string;
  expiresAt?: string;
}

/** `--expires-in` in seconds, or `--expires-at` in Unix ms; the hub checks the rest (a past date, both). */
function expiryOf(opts: CreateOptions): Pick<CreateAgentTokenRequest, 'expiresIn' | 'expiresAt'> {
  if (opts.expiresIn !== undefined && opts.expiresAt !== undefined)
    throw new CliError('give --expires-in or --expires-at, not both');
  if (opts.expiresIn !== undefined) {
    const seconds = parseLifetime(opts.expiresIn);
    if (seconds === undefined)
      throw new CliError(
        `invalid --expires-in '${opts.expiresIn}': expected a duration like 365d, 12h or 90m`,
      );
    return { expiresIn: seconds };
  }
  if (opts.expiresAt !== undefined) {
    const at = /^\d{4}-\d{2}-\d{2}/.test(opts.expiresAt) ? Date.parse(opts.expiresAt) : NaN;
    if (Number.isNaN(at))
      throw new CliError(
        `invalid --expires-at '${opts.expiresAt}': expected a date such as 2027-06-30 or 2027-06-30T12:00:00Z`,
      );
    return { expiresAt: at };
  }
  return {};
}

function createRequest(opts: CreateOptions): CreateAgentTokenRequest {
  const list = (text: string | undefined) =>
    text === undefined
      ? undefined
      : text
          .split(',')
          .map((item) => item.trim())
          .filter((item) => item !== '');
  const request: CreateAgentTokenRequest = {
    name: opts.name,
    team: opts.team,
    agent: opts.agent,
    agentPrefix: opts.agentPrefix,
    pools: list(opts.pools),
    platforms: list(opts.platforms),
    tags: list(opts.tags),
    maxCapacity:
      opts.maxCapacity === undefined ? undefined : parsePositiveInt(opts.maxCapacity, 'max capacity'),
    ...expiryOf(opts),
  };
  // Absent fields stay absent in the JSON: the hub reads them as unbounded.
  return Object.fromEntries(
    Object.entries(request).filter(([, value]) => value !== undefined),
  ) as CreateAgentTokenRequest;
}
