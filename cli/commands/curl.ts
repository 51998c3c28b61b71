// `outpost curl PATH [-- CURL_ARGS]`: fly's curl. Runs the system's curl on the target's URL with this
// path, authorised as the target. The token goes to curl in a private header file (never on its command
// line, where other users of the machine could read it in the process list).

import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { CliError } from '../io.js';
import type { Target } from '../targets.js';

/** The target's URL with PATH's path and query (as fly: PATH replaces any path the target URL has). */
function fullUrl(target: string, pathAndQuery: string): string {
  const url = new URL(target);
  const given = new URL(pathAndQuery, 'http://path.invalid');
  url.pathname = given.pathname;
  url.search = given.search;
  return url.toString();
}

/** curl's arguments: the target's TLS settings, then the user's, then the URL. */
function curlArgs(target: Target, headerArg: string, userArgs: string[], url: string): string[] {
  return [
    '-H',
    headerArg,
    ...(target.ca_file ? ['--cacert', target.ca_file] : []),
    ...(target.insecure_skip_verify === true ? ['-k'] : []),
    ...userArgs,
    url,
  ];
}

const quoted = (arg: string): string => (/\s/.test(arg) ? `"${arg}"` : arg);

export function registerCurl(program: Command, ctx: CliContext): void {
  program
    .command('curl')
    .description("Run curl on a path of the target's API, authorised as the target")
    .argument('<path>', 'the path and query, e.g. /api/v1/builds/42/events')
    .argument('[curl-args...]', "after --: curl's own flags")
    .option('--print-and-exit', 'print the curl command (the token redacted) and exit')
    .addHelpText(
      'after',
      `
Exit status: curl's. Needs curl on PATH.
Examples:
  outpost curl /api/v1/info
  outpost curl /api/v1/builds/42/events -- --max-time 5`,
    )
    .action(async (apiPath: string, userArgs: string[], opts: { printAndExit?: boolean }, cmd: Command) => {
      // The client first renews a login token that is about to expire (and saves it).
      await ctx.client(cmd);
      const target = await ctx.target(cmd);
      const url = fullUrl(target.url, apiPath);
      if (opts.printAndExit === true) {
        const header = 'Authorization: Bearer ((redacted))';
        ctx.out(['curl', ...curlArgs(target, header, userArgs, url)].map(quoted).join(' ') + '\n');
        return;
      }
      const dir = await mkdtemp(path.join(tmpdir(), 'outpost-curl-'));
      try {
        const headerFile = path.join(dir, 'header');
        await writeFile(headerFile, `Authorization: Bearer ${target.token}\n`, { mode: 0o600 });
        ctx.exitCode = await runCurl(ctx, curlArgs(target, `@${headerFile}`, userArgs, url));
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
}

/**
 * Runs curl with this command's input and output (as fly: `-- --data-binary @-` sends what is piped in);
 * resolves to its exit status.
 */
function runCurl(ctx: CliContext, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn('curl', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdout.on('data', (chunk: Buffer) => ctx.io.stdout.write(chunk));
    child.stderr.on('data', (chunk: Buffer) => ctx.io.stderr.write(chunk));
    // curl may end without reading its input (most requests): a broken pipe then is no failure.
    child.stdin.on('error', () => undefined);
    Readable.from(ctx.io.stdin)
      .on('error', () => child.stdin.end())
      .pipe(child.stdin);
    child.on('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'ENOENT'
          ? new CliError('curl is not installed (or not on PATH)')
          : new CliError(`could not run curl: ${err.message}`),
      ),
    );
    child.on('close', (code) => {
      // Nothing more goes to curl: stop reading this process's input (a terminal would hold it open).
      ctx.io.releaseStdin?.();
      // Killed by a signal: no exit status of its own; 1, as fly reports any failure of curl.
      resolve(code ?? 1);
    });
  });
}
