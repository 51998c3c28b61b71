// `outpost audit`: who did what, newest first — logins and every state-changing request, with the team,
// the path, the caller's address and whether it was done. Admins read all of it, owners their teams'.

import type { Command } from 'commander';
import { parsePositiveInt, type CliContext } from '../context.js';
import { CliError } from '../io.js';
import { formatDateTime, parseDuration } from '../render/time.js';

interface AuditOptions {
  team?: string;
  user?: string;
  since?: string;
  count: string;
  json?: boolean;
}

/** `--since`: a duration back from now (`24h`, `30m`) or a date/time (`2026-12-01`, ISO 8601). */
export function sinceMillis(text: string, nowMs: number): number {
  const back = parseDuration(text);
  if (back !== undefined) return nowMs - back;
  const at = /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : NaN;
  if (Number.isNaN(at))
    throw new CliError(
      `invalid --since '${text}': expected a duration such as 24h or a date such as 2026-12-01`,
    );
  return at;
}

export function registerAudit(program: Command, ctx: CliContext): void {
  program
    .command('audit')
    .description(
      'Show the audit log: logins and every change, newest first (admins; team owners see their teams)',
    )
    .option('-n, --team <team>', "only this team's entries")
    .option('-u, --user <user>', "only this user's (or `token:NAME`'s) entries")
    .option('--since <when>', 'only entries since a duration ago (24h) or a date (2026-12-01)')
    .option('-c, --count <n>', 'how many entries to show', '100')
    .option('--json', 'print the raw JSON array')
    .addHelpText(
      'after',
      `
Example:
  outpost audit --team alpha --since 24h
  outpost audit --user oidc:alice --json`,
    )
    .action(async (opts: AuditOptions, cmd: Command) => {
      const entries = await (
        await ctx.client(cmd)
      ).auditLog({
        team: opts.team,
        user: opts.user,
        since: opts.since === undefined ? undefined : sinceMillis(opts.since, ctx.now()),
        limit: parsePositiveInt(opts.count, '--count'),
      });
      if (opts.json === true) {
        ctx.out(JSON.stringify(entries, null, 2) + '\n');
        return;
      }
      ctx.out(
        ctx.table(
          ['time', 'user', 'team', 'action', 'target', 'source', 'status'],
          entries.map((e) => [
            formatDateTime(e.at),
            e.user,
            e.team ?? '',
            e.action,
            e.target,
            e.source,
            String(e.status),
          ]),
        ),
      );
    });
}
