import { resolve } from 'node:path';
import type { Command } from 'commander';
import { ApiClient, ApiRequestError } from '../api-client.js';
import type { CliContext } from '../context.js';
import { CliError, readLine } from '../io.js';
import { saveTarget, type Target } from '../targets.js';

interface LoginOptions {
  url: string;
  token?: string;
  team: string;
  caFile?: string;
  insecure?: boolean;
}

export function registerLogin(program: Command, ctx: CliContext): void {
  program
    .command('login')
    .description('Check a hub URL and API token, then save them as a target (-t NAME, default "default")')
    .requiredOption('--url <url>', 'the hub URL')
    .option('--token <token>', 'API token; "-" reads it from stdin (default: $OUTPOST_TOKEN)')
    .option('--team <team>', 'team to work in', 'main')
    .option('--ca-file <file>', 'PEM file of CA certificates to trust for the hub')
    .option('-k, --insecure', 'skip TLS certificate verification (testing only)')
    .addHelpText(
      'after',
      `
Examples:
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
      const token = await resolveToken(ctx, opts.token);
      const target: Target = { url: url.toString().replace(/\/+$/, ''), token, team: opts.team };
      if (opts.caFile !== undefined) target.ca_file = resolve(opts.caFile);
      if (opts.insecure === true) target.insecure_skip_verify = true;

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

async function resolveToken(ctx: CliContext, flag: string | undefined): Promise<string> {
  let token: string | undefined;
  if (flag === '-') {
    token = (await readLine(ctx.io.stdin))?.trim();
    if (!token) throw new CliError('--token -: no token on stdin');
    return token;
  }
  token = flag ?? ctx.io.env.OUTPOST_TOKEN;
  if (!token)
    throw new CliError('no token: pass --token TOKEN, --token - (read from stdin), or set OUTPOST_TOKEN');
  return token;
}
