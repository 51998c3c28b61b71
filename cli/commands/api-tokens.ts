// A team's API tokens for automation (the target's team): create one with a role and an expiry (its
// secret is printed once), list them, revoke one. Needs the owner role in the team.

import type { Command } from 'commander';
import type { RoleName } from '../../hub/api/types.js';
import { parsePositiveInt, type CliContext } from '../context.js';
import { CliError } from '../io.js';
import { formatDateTime, parseLifetime } from '../render/time.js';

/** `90d`, `12h`, `30m` -> seconds. */
function parseExpiry(text: string): number {
  const seconds = parseLifetime(text);
  if (seconds === undefined)
    throw new CliError(`invalid --expires '${text}': expected a duration like 30d, 12h or 90m`);
  return seconds;
}

export function registerApiTokens(program: Command, ctx: CliContext): void {
  const group = program
    .command('api-tokens')
    .description("Manage the target team's API tokens for automation (team owners)")
    .addHelpText(
      'after',
      `
Examples:
  outpost api-tokens create --name deploy-bot --role pipeline-operator --expires 90d
  outpost api-tokens list
  outpost api-tokens revoke 7`,
    );

  group
    .command('create')
    .description('Create a token and print its secret (shown only this once)')
    .requiredOption('--name <name>', 'a name to recognise the token by')
    .requiredOption('--role <role>', 'owner, member, pipeline-operator or viewer')
    .option('--expires <duration>', 'lifetime, like 30d, 12h or 90m (at most a year)', '30d')
    .action(async (opts: { name: string; role: string; expires: string }, cmd: Command) => {
      const created = await (
        await ctx.client(cmd)
      ).createApiToken({
        name: opts.name,
        role: opts.role as RoleName,
        expiresIn: parseExpiry(opts.expires),
      });
      ctx.out(
        `created API token ${created.id} (${created.name}, ${created.role} of ${created.team}, expires ${created.expiresAt === null ? 'never' : formatDateTime(created.expiresAt)}); it is shown only now:\n${created.token}\n`,
      );
    });

  group
    .command('list')
    .description('List the team API tokens')
    .action(async (_opts: object, cmd: Command) => {
      const list = await (await ctx.client(cmd)).listApiTokens();
      const rows = list.map((t) => [
        String(t.id),
        t.name,
        t.role,
        t.expiresAt === null ? 'never' : formatDateTime(t.expiresAt),
        t.revokedAt === null ? 'active' : `revoked ${formatDateTime(t.revokedAt)}`,
      ]);
      ctx.out(ctx.table(['id', 'name', 'role', 'expires', 'state'], rows));
    });

  group
    .command('revoke')
    .description('Revoke a token; it stops working at once')
    .argument('<id>', 'the token id (from list)')
    .action(async (id: string, _opts: object, cmd: Command) => {
      await (await ctx.client(cmd)).revokeApiToken(parsePositiveInt(id, 'token id'));
      ctx.out(`revoked API token ${id}\n`);
    });
}
