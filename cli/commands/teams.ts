// Teams, as fly manages them: list, show, set (create or replace its members, after a confirmation),
// rename and destroy (after typing the team's name). Setting, renaming and destroying need an admin.

import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { parse } from 'yaml';
import type { RoleName, TeamMember } from '../../hub/api/types.js';
import type { CliContext } from '../context.js';
import { CliError } from '../io.js';
import { renderTable } from '../render/table.js';

const ROLE_NAMES: readonly RoleName[] = ['owner', 'member', 'pipeline-operator', 'viewer'];

/** fly's team config file: `roles: [{name: ROLE, local: {users: [...]}}]`. */
async function membersFromConfig(file: string): Promise<TeamMember[]> {
  let doc: unknown;
  try {
    doc = parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new CliError(`could not read team config ${file}: ${(err as Error).message}`, 1, { cause: err });
  }
  const roles = (doc as { roles?: unknown } | null)?.roles;
  if (!Array.isArray(roles)) throw new CliError(`${file}: expected a 'roles' list`);
  return roles.flatMap((r: { name?: unknown; local?: { users?: unknown } } | null, i) => {
    if (!ROLE_NAMES.includes(r?.name as RoleName))
      throw new CliError(`${file}: roles[${i}].name must be one of ${ROLE_NAMES.join(', ')}`);
    const users = r?.local?.users ?? [];
    if (!Array.isArray(users) || users.some((u) => typeof u !== 'string'))
      throw new CliError(`${file}: roles[${i}].local.users must be a list of user names`);
    return (users as string[]).map((user) => ({ user, role: r?.name as RoleName }));
  });
}

export function registerTeamCommands(program: Command, ctx: CliContext): void {
  program
    .command('teams')
    .description('List the teams you may see')
    .action(async (_opts: object, cmd: Command) => {
      const teams = await (await ctx.client(cmd)).listTeams();
      ctx.out(
        renderTable(
          ['name'],
          teams.map((t) => [t.name]),
          ctx.style,
        ),
      );
    });

  program
    .command('get-team')
    .description("Show a team and, to its owners, its members' roles")
    .requiredOption('-n, --team-name <team>', 'the team')
    .action(async (opts: { teamName: string }, cmd: Command) => {
      const team = await (await ctx.client(cmd)).getTeam(opts.teamName);
      ctx.out(`name: ${team.name}\n`);
      if (team.members)
        ctx.out(
          renderTable(
            ['user', 'role'],
            team.members.map((m) => [m.user, m.role]),
            ctx.style,
          ),
        );
    });

  program
    .command('set-team')
    .description('Create a team or replace its members (admins); asks before applying')
    .requiredOption('-n, --team-name <team>', 'the team')
    .option('--local-user <user...>', 'local users to make owners of the team')
    .option('-c, --config <file>', "fly's team config: roles: [{name: member, local: {users: [alice]}}]")
    .option('--non-interactive', 'apply without asking')
    .addHelpText(
      'after',
      `
Example:
  outpost set-team -n alpha --local-user alice
  outpost set-team -n alpha -c team.yml --non-interactive`,
    )
    .action(
      async (
        opts: { teamName: string; localUser?: string[]; config?: string; nonInteractive?: boolean },
        cmd: Command,
      ) => {
        const members = [
          ...(opts.localUser ?? []).map((user) => ({ user, role: 'owner' as const })),
          ...(opts.config ? await membersFromConfig(opts.config) : []),
        ];
        if (members.length === 0)
          throw new CliError(
            'no members: pass --local-user USER or -c CONFIG (a team without members is reachable only by admins)',
          );
        ctx.out(`setting team: ${opts.teamName}\n`);
        ctx.out(
          renderTable(
            ['user', 'role'],
            members.map((m) => [m.user, m.role]),
            ctx.style,
          ),
        );
        if (!opts.nonInteractive && !(await ctx.confirm('apply configuration? [yN]: ', 'y'))) {
          ctx.out('bailing out\n');
          ctx.exitCode = 1;
          return;
        }
        const { created } = await (await ctx.client(cmd)).setTeam(opts.teamName, { members });
        ctx.out(`team ${created ? 'created' : 'updated'}\n`);
      },
    );

  program
    .command('rename-team')
    .description('Rename a team (admins)')
    .requiredOption('-o, --old-name <team>', 'the team')
    .requiredOption('-n, --new-name <team>', 'its new name')
    .action(async (opts: { oldName: string; newName: string }, cmd: Command) => {
      await (await ctx.client(cmd)).renameTeam(opts.oldName, opts.newName);
      ctx.out(`team renamed to ${opts.newName}\n`);
    });

  program
    .command('destroy-team')
    .description('Destroy a team and everything in it: pipelines, builds, tokens (admins)')
    .requiredOption('-n, --team-name <team>', 'the team')
    .option('--non-interactive', 'destroy without asking')
    .action(async (opts: { teamName: string; nonInteractive?: boolean }, cmd: Command) => {
      ctx.out(`!!! this will remove all data for team \`${opts.teamName}\`\n\n`);
      if (
        !opts.nonInteractive &&
        !(await ctx.confirm('please type the team name to continue: ', opts.teamName))
      ) {
        ctx.out('bailing out\n');
        ctx.exitCode = 1;
        return;
      }
      await (await ctx.client(cmd)).destroyTeam(opts.teamName);
      ctx.out(`\`${opts.teamName}\` deleted\n`);
    });
}
