// Local users, managed by admins through the API: list them, create one or change its password.

import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { CliError, readLine } from '../io.js';

export function registerUserCommands(program: Command, ctx: CliContext): void {
  program
    .command('users')
    .description('List local users and their roles (admins)')
    .action(async (_opts: object, cmd: Command) => {
      const users = await (await ctx.client(cmd)).listUsers();
      const rows = users.map((u) => [u.name, u.teams.map((t) => `${t.team}:${t.role}`).join(', ')]);
      ctx.out(ctx.table(['name', 'teams'], rows));
    });

  program
    .command('set-user')
    .description('Create a local user or change its password (admins); the password is read from stdin')
    .requiredOption('-u, --username <user>', 'the user')
    .addHelpText('after', '\nExample:\n  pass show ci/alice | outpost set-user -u alice')
    .action(async (opts: { username: string }, cmd: Command) => {
      const password = (await readLine(ctx.io.stdin))?.trim();
      if (!password) throw new CliError('no password on stdin');
      await (await ctx.client(cmd)).setUser(opts.username, password);
      ctx.out(`user ${opts.username} set\n`);
    });
}
