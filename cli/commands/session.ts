// Your saved targets and who you are on them: userinfo, status, targets, logout, delete-target and
// edit-target (fly's names).

import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { CliError } from '../io.js';
import { formatDateTime } from '../render/time.js';
import { configPath, deleteTarget, loadTargets, saveTarget } from '../targets.js';

export function registerSessionCommands(program: Command, ctx: CliContext): void {
  program
    .command('userinfo')
    .description('Show who you are on the target: your name and your role in each team')
    .action(async (_opts: object, cmd: Command) => {
      const info = await (await ctx.client(cmd)).userInfo();
      ctx.out(`name: ${info.name}${info.admin ? ' (admin)' : ''}\n`);
      ctx.out(
        ctx.table(
          ['team', 'role'],
          info.teams.map((t) => [t.team, t.role]),
        ),
      );
    });

  program
    .command('status')
    .description('Check that your login on the target is valid, and until when')
    .action(async (_opts: object, cmd: Command) => {
      const info = await (await ctx.client(cmd)).userInfo();
      const until =
        info.expiresAt === null ? 'does not expire' : `valid until ${formatDateTime(info.expiresAt)}`;
      ctx.out(`logged in as ${info.name}; the token ${until}\n`);
    });

  program
    .command('targets')
    .description('List saved targets')
    .action(async () => {
      const { targets } = await loadTargets(configPath(ctx.io.env));
      const rows = Object.entries(targets).map(([name, t]) => [
        name,
        t.url,
        t.team,
        t.token === ''
          ? 'logged out'
          : t.expires_at === undefined
            ? 'API token'
            : `until ${formatDateTime(t.expires_at)}`,
      ]);
      ctx.out(ctx.table(['name', 'url', 'team', 'login'], rows));
    });

  program
    .command('logout')
    .description("Forget the target's token (its url and team are kept for the next login)")
    .action(async (_opts: object, cmd: Command) => {
      const name = ctx.targetName(cmd);
      const target = await ctx.target(cmd);
      await saveTarget(ctx.io.env, name, { ...target, token: '' });
      ctx.out(`logged out of target ${name}\n`);
    });

  program
    .command('delete-target')
    .description('Remove a saved target')
    .action(async (_opts: object, cmd: Command) => {
      const name = ctx.targetName(cmd);
      if (!(await deleteTarget(ctx.io.env, name))) throw new CliError(`unknown target '${name}'`);
      ctx.out(`deleted target ${name}\n`);
    });

  program
    .command('edit-target')
    .description("Change a saved target's team or url")
    .option('-n, --team-name <team>', 'the team to work in')
    .option('-c, --url <url>', 'the hub URL')
    .action(async (opts: { teamName?: string; url?: string }, cmd: Command) => {
      const name = ctx.targetName(cmd);
      const target = await ctx.target(cmd);
      if (opts.teamName === undefined && opts.url === undefined)
        throw new CliError('nothing to change: pass -n TEAM and/or -c URL');
      await saveTarget(ctx.io.env, name, {
        ...target,
        ...(opts.teamName === undefined ? {} : { team: opts.teamName }),
        ...(opts.url === undefined ? {} : { url: opts.url.replace(/\/+$/, '') }),
      });
      ctx.out(`updated target ${name}\n`);
    });
}
