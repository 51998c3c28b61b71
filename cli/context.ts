// What every command gets: the process io, styling, the clock, and the API client of the selected target.
// Commands report their exit code through `exitCode`; user-facing failures are thrown as CliError.

import type { Command } from 'commander';
import { ApiClient, parseRef, type ApiClientOptions } from './api-client.js';
import { CliError, readLine, type CliIo } from './io.js';
import { makeStyle, type Style } from './render/ansi.js';
import { renderTable } from './render/table.js';
import { getTarget, saveTarget, type Target } from './targets.js';

/** A login token is renewed once less than this is left of it (the hub issues them for an hour). */
const RENEW_WITHIN_MS = 30 * 60 * 1000;

export class CliContext {
  readonly style: Style;
  exitCode = 0;
  /** The global --print-table-headers (set before each command's action). */
  printTableHeaders = false;

  constructor(
    readonly io: CliIo,
    readonly clientOptions: ApiClientOptions = {},
  ) {
    this.style = makeStyle(io.isTTY && !io.env.NO_COLOR);
  }

  now(): number {
    return this.io.now ? this.io.now() : Date.now();
  }

  out(s: string): void {
    this.io.stdout.write(s);
  }

  err(s: string): void {
    this.io.stderr.write(s);
  }

  /**
   * A listing as fly prints it: the header row on a terminal or with --print-table-headers, else only
   * the rows (scripts read them from a pipe). `always`: a summary to confirm, not a listing.
   */
  table(header: string[], rows: string[][], always = false): string {
    return renderTable(header, rows, this.style, always || this.io.isTTY || this.printTableHeaders);
  }

  /** Asks `question` on stdout; true when the answer read from stdin is `expected`. */
  async confirm(question: string, expected: string): Promise<boolean> {
    this.out(question);
    return (await readLine(this.io.stdin))?.trim() === expected;
  }

  /** The global `-t/--target` value (it may be given before or after the command name). */
  targetName(cmd: Command): string {
    const { target } = cmd.optsWithGlobals<{ target?: string }>();
    return target ?? 'default';
  }

  /** `outpost [-t TARGET] ARGS`: a next step to print, against the target this command used. */
  commandLine(cmd: Command, args: string): string {
    const target = this.targetName(cmd);
    return `outpost ${target === 'default' ? '' : `-t ${target} `}${args}`;
  }

  async target(cmd: Command): Promise<Target> {
    return getTarget(this.io.env, this.targetName(cmd));
  }

  /** The target's client; a login token close to its expiry is first exchanged for a fresh one. */
  async client(cmd: Command): Promise<ApiClient> {
    const name = this.targetName(cmd);
    const target = await this.target(cmd);
    if (target.expires_at === undefined) return ApiClient.create(target, this.clientOptions);
    const relogin = `outpost login -t ${name} -c ${target.url} -n ${target.team} -u USER`;
    if (target.token === '') throw new CliError(`logged out of target '${name}'; log in again: ${relogin}`);
    if (this.now() >= target.expires_at)
      throw new CliError(`your login to target '${name}' expired; log in again: ${relogin}`);
    if (target.expires_at - this.now() > RENEW_WITHIN_MS) return ApiClient.create(target, this.clientOptions);
    const renewed = await (await ApiClient.create(target, this.clientOptions)).renewLogin();
    const next: Target = { ...target, token: renewed.token, expires_at: renewed.expiresAt };
    await saveTarget(this.io.env, name, next);
    return ApiClient.create(next, this.clientOptions);
  }
}

/**
 * Splits `PIPELINE/JOB` as fly does: the job is what follows the last `/`, the pipeline what comes
 * before it, an instance as `name/key:value,...` (checked here, so a mistake is reported first).
 */
export function parseJobRef(ref: string): { pipeline: string; job: string } {
  const slash = ref.lastIndexOf('/');
  const pipeline = ref.slice(0, slash);
  const job = ref.slice(slash + 1);
  if (slash <= 0 || job === '') {
    throw new CliError(`invalid job '${ref}': expected PIPELINE/JOB`);
  }
  parseRef(pipeline);
  return { pipeline, job };
}

export function parsePositiveInt(value: string, what: string): number {
  if (!/^\d+$/.test(value) || Number(value) <= 0)
    throw new CliError(`invalid ${what} '${value}': expected a positive integer`);
  return Number(value);
}
