import { resolve } from 'node:path';
import type { Command } from 'commander';
import { ApiClient, ApiRequestError } from '../api-client.js';
import type { InfoResponse } from '../../hub/api/types.js';
import { browserLogin } from '../browser-login.js';
import type { CliContext } from '../context.js';
import { CliError, readHidden, readLine } from '../io.js';
import { saveTarget, type Target } from '../targets.js';

interface LoginOptions {
  url: string;
  token?: string;
  username?: string;
  password?: string;
  team: string;
  caFile?: string;
  insecure?: boolean;
}

export function registerLogin(program: Command, ctx: CliContext): void {
  program
    .command('login')
    .description(
      'Log in to a hub as a local user (-u), with an API token (--token), or else through its OpenID Connect provider in a browser; save it as a target (-t NAME, default "default")',
    )
    .requiredOption('-c, --url <url>', 'the hub URL')
    .option('-u, --username <user>', "a local user's name: log in with a password for a token the CLI renews")
    .option(
      '-p, --password <password>',
      'the password; "-" reads it from stdin (default: $OUTPOST_PASSWORD, else asked for on a terminal, else the first line of stdin)',
    )
    .option('--token <token>', 'API token; "-" reads it from stdin (default: $OUTPOST_TOKEN)')
    .option('-n, --team <team>', 'team to work in', 'main')
    .option('--ca-file <file>', 'PEM file of CA certificates to trust for the hub')
    .option('-k, --insecure', 'skip TLS certificate verification (testing only)')
    .addHelpText(
      'after',
      `
Examples:
  outpost login -t prod -c https://ci.example.com -n infra                 # OIDC: prints a URL to open
  outpost login -t prod -c https://ci.example.com -n infra -u alice        # asks for the password
  echo "$PW" | outpost login -t prod -c https://ci.example.com -u alice     # password on stdin
  outpost login -t prod --url https://ci.example.com --token "$TOKEN"
  pass show ci/token | outpost login -t prod --url https://ci.example.com --token - --team infra`,
    )
    .action(async (opts: LoginOptions, cmd: Command) => {
      const name = ctx.targetName(cmd);
      let url: URL;
      try {
        url = new URL(opts.url);
      } catch {
        throw new CliError(`invalid --url '${opts.url}': expected e.g. https://ci.example.com`);
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        throw new CliError(`invalid --url '${opts.url}': only http:// and https:// are supported`);
      }
      const target: Target = { url: url.toString().replace(/\/+$/, ''), token: '', team: opts.team };
      if (opts.caFile !== undefined) target.ca_file = resolve(opts.caFile);
      if (opts.insecure === true) target.insecure_skip_verify = true;
      if (opts.username !== undefined) {
        const password = await readSecret(ctx, opts.password, 'OUTPOST_PASSWORD', 'password');
        let login;
        try {
          const anonymous = await ApiClient.create(target, ctx.clientOptions);
          login = await anonymous.login({ username: opts.username, password, team: opts.team });
        } catch (err) {
          if (err instanceof ApiRequestError && [401, 403, 429].includes(err.status))
            throw new CliError(`login failed: ${err.message}; target '${name}' not saved`);
          throw err;
        }
        target.token = login.token;
        target.expires_at = login.expiresAt;
        await saveTarget(ctx.io.env, name, target);
        const role = login.teams.find((t) => t.team === opts.team)?.role ?? 'admin';
        ctx.out(
          `logged in to ${target.url} as ${login.user} (team ${opts.team}, ${role}); saved target ${name}\n`,
        );
        return;
      }
      if (opts.token === undefined && !ctx.io.env.OUTPOST_TOKEN) {
        // Neither a user nor a token: the hub's OIDC login, when it has one.
        // A hub older than OIDC login asks for a token here, as the message below does.
        const info: Partial<InfoResponse> | undefined = await (
          await ApiClient.create(target, ctx.clientOptions)
        )
          .info()
          .catch((err: unknown) => {
            if (err instanceof ApiRequestError) return undefined;
            throw err;
          });
        if (info?.auth?.oidc) {
          const login = await browserLogin(ctx, target.url, opts.team);
          target.token = login.token;
          target.expires_at = login.expiresAt;
          const me = await (await ApiClient.create(target, ctx.clientOptions)).userInfo();
          await saveTarget(ctx.io.env, name, target);
          const role = me.teams.find((t) => t.team === opts.team)?.role ?? 'admin';
          ctx.out(
            `logged in to ${target.url} as ${me.name} through ${info.auth.oidc.name} (team ${opts.team}, ${role}); saved target ${name}\n`,
          );
          return;
        }
      }
      target.token = await readSecret(ctx, opts.token, 'OUTPOST_TOKEN', 'token');

      const client = await ApiClient.create(target, ctx.clientOptions);
      let tokenName: string;
      try {
        ({ tokenName } = await client.info());
      } catch (err) {
        if (err instanceof ApiRequestError && err.code === 'agent_token')
          throw new CliError(`login failed: ${err.message}; target '${name}' not saved`);
        if (err instanceof ApiRequestError && (err.status === 401 || err.status === 403)) {
          throw new CliError(
            `login failed: the hub rejected the token (${err.message}); target '${name}' not saved`,
          );
        }
        throw err;
      }
      await saveTarget(ctx.io.env, name, target);
      ctx.out(`logged in to ${target.url} as ${tokenName}; saved target ${name}\n`);
    });
}

/** A secret from its flag, stdin (`-`) or the environment, so it need not sit in shell history. */
async function readSecret(
  ctx: CliContext,
  flag: string | undefined,
  envName: string,
  what: 'token' | 'password',
): Promise<string> {
  if (flag === '-') {
    const value = (await readLine(ctx.io.stdin))?.trim();
    if (!value) throw new CliError(`--${what} -: no ${what} on stdin`);
    return value;
  }
  // A password left out is asked for: typed on a terminal (no echo), else the first line of stdin.
  const value =
    flag ??
    ctx.io.env[envName] ??
    (what === 'password' ? (await readHidden(ctx.io, 'password: '))?.trim() : undefined);
  if (!value)
    throw new CliError(
      `no ${what}: pass --${what} ${what.toUpperCase()}, --${what} - (read from stdin), or set ${envName}`,
    );
  return value;
}
