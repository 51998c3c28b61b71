// Teams, as fly manages them: list, show, set (create or replace its members, after a confirmation),
// rename and destroy (after typing the team's name). Setting, renaming and destroying need an admin.

import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { parse } from 'yaml';
import type { OidcTeamRole, RoleName, SetTeamRequest, TeamMember, TeamSummary } from '../../hub/api/types.js';
import { ApiRequestError } from '../api-client.js';
import type { CliContext } from '../context.js';
import { CliError } from '../io.js';

const ROLE_NAMES: readonly RoleName[] = ['owner', 'member', 'pipeline-operator', 'viewer'];

type RoleConfig = {
  name?: unknown;
  local?: { users?: unknown };
  oidc?: { users?: unknown; groups?: unknown };
} | null;

/** A list of names at `path` in the config, or a clear error. */
function names(file: string, path: string, value: unknown): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.some((u) => typeof u !== 'string' || u === ''))
    throw new CliError(`${file}: ${path} must be a list of names`);
  return value as string[];
}

/**
 * fly's team config file: `roles: [{name: ROLE, local: {users: [...]}, oidc: {users: [...], groups: [...]}}]`.
 */
async function authFromConfig(file: string): Promise<SetTeamRequest> {
  let doc: unknown;
  try {
    doc = parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new CliError(`could not read team config ${file}: ${(err as Error).message}`, 1, { cause: err });
  }
  const roles = (doc as { roles?: unknown } | null)?.roles;
  if (!Array.isArray(roles)) throw new CliError(`${file}: expected a 'roles' list`);
  const auth: Required<SetTeamRequest> = { members: [], oidc: [] };
  (roles as RoleConfig[]).forEach((r, i) => {
    const role = r?.name as RoleName;
    if (!ROLE_NAMES.includes(role))
      throw new CliError(`${file}: roles[${i}].name must be one of ${ROLE_NAMES.join(', ')}`);
    for (const user of names(file, `roles[${i}].local.users`, r?.local?.users))
      auth.members.push({ user, role });
    for (const name of names(file, `roles[${i}].oidc.users`, r?.oidc?.users))
      auth.oidc.push({ kind: 'user', name, role });
    for (const name of names(file, `roles[${i}].oidc.groups`, r?.oidc?.groups))
      auth.oidc.push({ kind: 'group', name, role });
  });
  return auth;
}

/**
 * A flag's value: NAME (an owner, as fly's flags make) or ROLE=NAME for another role. Only the four
 * role names count as a prefix, so a group such as `cn=devs,ou=groups` stays whole.
 */
export function roleAndName(value: string): { role: RoleName; name: string } {
  const at = value.indexOf('=');
  const prefix = value.slice(0, at) as RoleName;
  if (at > 0 && ROLE_NAMES.includes(prefix)) return { role: prefix, name: value.slice(at + 1) };
  return { role: 'owner', name: value };
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerTeamCommands(program: Command, ctx: CliContext): void {
  program
    .command('teams')
    .description('List the teams you may see')
    .action(async (_opts: object, cmd: Command) => {
      const teams = await (await ctx.client(cmd)).listTeams();
      ctx.out(
        ctx.table(
          ['name'],
          teams.map((t) => [t.name]),
        ),
      );
    });

  program
    .command('get-team')
    .description("Show a team's roles: who has each (to the team's owners and admins)")
    .requiredOption('-n, --team-name <team>', 'the team')
    .option('--json', 'print the team as JSON')
    .action(async (opts: { teamName: string; json?: boolean }, cmd: Command) => {
      const team = await (await ctx.client(cmd)).getTeam(opts.teamName);
      if (opts.json === true) return ctx.out(JSON.stringify(team, null, 2) + '\n');
      ctx.out(ctx.table(['name/role', 'users', 'groups'], roleRows(team)));
    });

  program
    .command('set-team')
    .description('Create a team or replace its members (admins); asks before applying')
    .requiredOption('-n, --team-name <team>', 'the team')
    .option('--local-user <[ROLE=]user>', 'a local user: an owner, or ROLE=USER (repeatable)', collect)
    .option(
      '--oidc-user <[ROLE=]user>',
      "a user of the hub's OIDC provider, by name: an owner, or ROLE=USER (repeatable)",
      collect,
    )
    .option(
      '--oidc-group <[ROLE=]group>',
      "everyone in a group of the hub's OIDC provider: owners, or ROLE=GROUP (repeatable)",
      collect,
    )
    .option(
      '-c, --config <file>',
      "fly's team config: roles: [{name: member, local: {users: [alice]}, oidc: {groups: [devs]}}]",
    )
    .option('--non-interactive', 'apply without asking')
    .addHelpText(
      'after',
      `
ROLE is owner, member, pipeline-operator or viewer. set-team replaces the team's members and OIDC
rules with the ones given.

Example:
  outpost set-team -n alpha --local-user alice --oidc-group member=devs --oidc-group viewer=qa
  outpost set-team -n alpha -c team.yml --non-interactive`,
    )
    .action(
      async (
        opts: {
          teamName: string;
          localUser?: string[];
          oidcUser?: string[];
          oidcGroup?: string[];
          config?: string;
          nonInteractive?: boolean;
        },
        cmd: Command,
      ) => {
        const fromFile = opts.config ? await authFromConfig(opts.config) : { members: [], oidc: [] };
        const members: TeamMember[] = [
          ...(opts.localUser ?? []).map(roleAndName).map(({ role, name }) => ({ user: name, role })),
          ...fromFile.members,
        ];
        const oidc: OidcTeamRole[] = [
          ...(opts.oidcUser ?? []).map((v) => ({ kind: 'user' as const, ...roleAndName(v) })),
          ...(opts.oidcGroup ?? []).map((v) => ({ kind: 'group' as const, ...roleAndName(v) })),
          ...(fromFile.oidc ?? []),
        ];
        if (members.length === 0 && oidc.length === 0)
          throw new CliError(
            'no members: pass --local-user, --oidc-user, --oidc-group or -c CONFIG (a team without members is reachable only by admins)',
          );
        ctx.out(`setting team: ${opts.teamName}\n`);
        ctx.out(
          ctx.table(
            ['who', 'role'],
            [
              ...members.map((m) => [`local user ${m.user}`, m.role]),
              ...oidc.map((r) => [`oidc ${r.kind} ${r.name}`, r.role]),
            ],
            true,
          ),
        );
        if (!opts.nonInteractive && !(await ctx.confirm('apply configuration? [yN]: ', 'y'))) {
          ctx.out('bailing out\n');
          ctx.exitCode = 1;
          return;
        }
        const { created } = await (await ctx.client(cmd)).setTeam(opts.teamName, { members, oidc });
        ctx.out(`team ${created ? 'created' : 'updated'}\n`);
      },
    );

  program
    .command('rename-team')
    .description('Rename a team (admins)')
    .requiredOption('-o, --old-name <team>', 'the team')
    .requiredOption('-n, --new-name <team>', 'its new name')
    .action(async (opts: { oldName: string; newName: string }, cmd: Command) => {
      try {
        await (await ctx.client(cmd)).renameTeam(opts.oldName, opts.newName);
      } catch (err) {
        if (err instanceof ApiRequestError && err.status === 404)
          throw new CliError(`Team '${opts.oldName}' not found`, 1, { cause: err });
        throw err;
      }
      ctx.out(`Team successfully renamed to ${opts.newName}\n`);
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

/** Concourse's roles, most powerful first. */
const ROLE_ORDER: RoleName[] = ['owner', 'member', 'pipeline-operator', 'viewer'];

/**
 * fly's get-team rows: one per role the team gives, with its users (`local:NAME`, `oidc:NAME`) and OIDC
 * groups, `none` when it has none. Without `members` (not an owner) the caller sees no roles.
 */
function roleRows(team: TeamSummary): string[][] {
  const members = team.members;
  if (!members) return [];
  const oidc = team.oidc ?? [];
  return ROLE_ORDER.flatMap((role) => {
    const users = [
      ...members.filter((m) => m.role === role).map((m) => `local:${m.user}`),
      ...oidc.filter((r) => r.role === role && r.kind === 'user').map((r) => `oidc:${r.name}`),
    ];
    const groups = oidc.filter((r) => r.role === role && r.kind === 'group').map((r) => `oidc:${r.name}`);
    if (users.length === 0 && groups.length === 0) return [];
    return [[`${team.name}/${role}`, users.join(',') || 'none', groups.join(',') || 'none']];
  });
}
