#!/usr/bin/env node
// The `outpost` CLI. runCli is the whole program and takes its process as a parameter (tests call it
// directly); the bottom of this file is the only place that touches the real process.

import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { ApiRequestError, type ApiClientOptions } from './api-client.js';
import { registerAbortBuild } from './commands/abort-build.js';
import { registerAgentTokens } from './commands/agent-tokens.js';
import { registerAgents } from './commands/agents.js';
import { registerApiTokens } from './commands/api-tokens.js';
import { registerAudit } from './commands/audit.js';
import { registerExposeCommands } from './commands/expose.js';
import { addFlyAliases } from './aliases.js';
import { registerBuilds } from './commands/builds.js';
import { registerClearCommands } from './commands/clear.js';
import { registerExecute } from './commands/execute.js';
import { registerIntercept } from './commands/intercept.js';
import { registerContainers } from './commands/containers.js';
import { registerCurl } from './commands/curl.js';
import { registerFormatPipeline } from './commands/format-pipeline.js';
import { registerJobCommands } from './commands/jobs.js';
import { registerLogin } from './commands/login.js';
import { registerPauseCommands } from './commands/pause.js';
import { registerPipelineLifecycleCommands } from './commands/pipeline-lifecycle.js';
import { registerPipelineCommands } from './commands/pipelines.js';
import { registerQuickstart } from './commands/quickstart.js';
import { registerRerunBuild } from './commands/rerun-build.js';
import { registerResourceCommands } from './commands/resources.js';
import { registerSessionCommands } from './commands/session.js';
import { registerSetPipeline } from './commands/set-pipeline.js';
import { registerSync } from './commands/sync.js';
import { registerTeamCommands } from './commands/teams.js';
import { registerTriggerJob } from './commands/trigger-job.js';
import { registerUserCommands } from './commands/users.js';
import { registerValidatePipeline } from './commands/validate-pipeline.js';
import { registerWatch } from './commands/watch.js';
import { CliContext } from './context.js';
import { CliError, type CliIo } from './io.js';

export type { CliIo } from './io.js';

export interface RunCliOptions {
  /** Tuning of the API client (tests shorten reconnect delays). */
  client?: ApiClientOptions;
}

export function buildProgram(ctx: CliContext): Command {
  const { io } = ctx;
  const program = new Command('outpost')
    .description('Command-line client for an Outpost hub (Concourse-style CI).')
    .option(
      '-t, --target <name>',
      'saved target to use (env OUTPOST_TARGET)',
      io.env.OUTPOST_TARGET ?? 'default',
    )
    // As fly: listings print their header row on a terminal, or anywhere with this flag.
    .option('--print-table-headers', 'print table headers also when stdout is not a terminal')
    .hook('preAction', (self) => {
      ctx.printTableHeaders = self.opts<{ printTableHeaders?: boolean }>().printTableHeaders === true;
    })
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    })
    .exitOverride()
    .showHelpAfterError('(add --help for usage)')
    .addHelpText(
      'after',
      `
Targets are saved by "login" in $OUTPOST_CONFIG (default ~/.outpost/config.yaml).

Example:
  outpost login -t ci --url https://ci.example.com --token "$TOKEN"
  outpost -t ci set-pipeline -p my-app -c pipeline.yml
  outpost -t ci trigger-job -j my-app/unit -w`,
    );
  // Subcommands inherit output and exitOverride settings from the program, so register them after.
  registerLogin(program, ctx);
  registerSetPipeline(program, ctx);
  registerValidatePipeline(program, ctx);
  registerFormatPipeline(program, ctx);
  registerTriggerJob(program, ctx);
  registerPauseCommands(program, ctx);
  registerPipelineCommands(program, ctx);
  registerResourceCommands(program, ctx);
  registerWatch(program, ctx);
  registerBuilds(program, ctx);
  registerAbortBuild(program, ctx);
  registerAgents(program, ctx);
  registerAgentTokens(program, ctx);
  registerQuickstart(program, ctx);
  registerSessionCommands(program, ctx);
  registerTeamCommands(program, ctx);
  registerUserCommands(program, ctx);
  registerApiTokens(program, ctx);
  registerExposeCommands(program, ctx);
  registerAudit(program, ctx);
  registerJobCommands(program, ctx);
  registerRerunBuild(program, ctx);
  registerClearCommands(program, ctx);
  registerPipelineLifecycleCommands(program, ctx);
  registerExecute(program, ctx);
  registerIntercept(program, ctx);
  registerContainers(program, ctx);
  registerCurl(program, ctx);
  registerSync(program, ctx);
  // Last: fly's short names for every command registered above.
  addFlyAliases(program);
  return program;
}

/**
 * Runs the CLI with `argv` being the user's arguments (process.argv.slice(2)). Returns the exit code;
 * never throws for user or network errors (they are printed as `error: ...`).
 */
export async function runCli(argv: string[], io: CliIo, options: RunCliOptions = {}): Promise<number> {
  const ctx = new CliContext(io, options.client);
  const program = buildProgram(ctx);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return ctx.exitCode;
  } catch (err) {
    // Commander already printed its own message (or the help).
    if (err instanceof CommanderError) return err.exitCode;
    return report(ctx, program, err);
  }
}

function report(ctx: CliContext, program: Command, err: unknown): number {
  if (err instanceof CliError) {
    ctx.err(`error: ${err.message}\n`);
    if (err instanceof ApiRequestError && err.status === 401) {
      const target = program.opts<{ target: string }>().target;
      ctx.err(
        err.code === 'token_expired'
          ? `the token of target '${target}' expired; log in again: outpost login -t ${target} --url URL -u USER (or --token TOKEN)\n`
          : `the token of target '${target}' was not accepted; log in again: outpost login -t ${target} --url URL --token TOKEN\n`,
      );
    }
    return err.exitCode;
  }
  const message = err instanceof Error ? err.message : String(err);
  ctx.err(`error: ${message}\n`);
  if (ctx.io.env.OUTPOST_DEBUG && err instanceof Error && err.stack) ctx.err(err.stack + '\n');
  return 1;
}

function isMainModule(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(fileURLToPath(import.meta.url)) === realpathSync(script);
  } catch {
    return false;
  }
}

function terminalSize(): { rows: number; cols: number } {
  return { rows: process.stdout.rows || 24, cols: process.stdout.columns || 80 };
}

if (isMainModule()) {
  // `outpost builds | head` closes the pipe early; that is not an error worth a stack trace.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
  process.exitCode = await runCli(process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    isTTY: process.stdout.isTTY,
    ...(process.stdin.isTTY
      ? {
          terminal: {
            setRawMode: (on: boolean) => process.stdin.setRawMode(on),
            size: terminalSize,
            onResize: (listener: (size: { rows: number; cols: number }) => void) => {
              // Node updates stdout's size on SIGWINCH and then emits 'resize'.
              const resized = () => listener(terminalSize());
              process.stdout.on('resize', resized);
              return () => process.stdout.off('resize', resized);
            },
          },
        }
      : {}),
    releaseStdin: () => process.stdin.destroy(),
    onInterrupt: (listener) => {
      process.on('SIGINT', listener);
      process.on('SIGTERM', listener);
      return () => {
        process.off('SIGINT', listener);
        process.off('SIGTERM', listener);
      };
    },
  });
}
