// Runs the host's `git` for one step of the built-in git resource, with the source's credentials and
// settings. Everything a step needs on disk (a HOME with its global git config, the SSH key, the
// askpass script) lives in one private temporary directory that dispose() removes; secrets travel to
// git only through that directory and the child's environment, never on a command line, and every
// line git prints passes through redact() before it reaches the step's log.

import { spawn } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ResourceFailure } from '../builtin.js';
import type { GitSource } from './source.js';

export interface GitRunOptions {
  cwd?: string;
  /** Written to git's stdin. */
  input?: string;
  /** Extra environment (GIT_LFS_SKIP_SMUDGE...). */
  env?: Record<string, string>;
}

export interface GitResult {
  code: number;
  stdout: string;
  stderr: string;
}

// Answers git's username/password prompts (GIT_ASKPASS) and ssh's passphrase prompt (SSH_ASKPASS)
// from the environment, so no secret is ever written to disk.
const ASKPASS = `#!/bin/sh
case "$1" in
  Username*) printf '%s\\n' "$OUTPOST_GIT_USERNAME" ;;
  Password*) printf '%s\\n' "$OUTPOST_GIT_PASSWORD" ;;
  *assphrase*) printf '%s\\n' "$OUTPOST_GIT_PASSPHRASE" ;;
  *) exit 1 ;;
esac
`;

export class GitSession {
  private constructor(
    /** Private to this step; removed by dispose(). */
    readonly home: string,
    private readonly env: Record<string, string>,
    private readonly secrets: string[],
    private readonly log: (line: string) => void,
    private readonly signal: AbortSignal,
  ) {}

  /** A session for `source`; the caller must dispose() it (in a finally). */
  static async open(
    source: GitSource,
    log: (line: string) => void,
    signal: AbortSignal,
  ): Promise<GitSession> {
    const home = await mkdtemp(path.join(tmpdir(), 'outpost-git-'));
    try {
      await chmod(home, 0o700);
      const askpass = path.join(home, 'askpass.sh');
      await writeFile(askpass, ASKPASS, { mode: 0o700 });
      const env: Record<string, string> = {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: home,
        XDG_CONFIG_HOME: path.join(home, '.config'),
        GIT_TERMINAL_PROMPT: '0',
        GIT_ASKPASS: askpass,
        LANG: 'C',
        LC_ALL: 'C',
      };
      const secrets: string[] = [];
      if (source.username !== undefined && source.password !== undefined) {
        env.OUTPOST_GIT_USERNAME = source.username;
        env.OUTPOST_GIT_PASSWORD = source.password;
        secrets.push(source.password);
      }
      if (source.skipSslVerification) env.GIT_SSL_NO_VERIFY = 'true';
      if (source.privateKey !== undefined) {
        const key = path.join(home, 'id');
        await writeFile(
          key,
          source.privateKey.endsWith('\n') ? source.privateKey : `${source.privateKey}\n`,
          {
            mode: 0o600,
          },
        );
        const user =
          source.privateKeyUser === undefined ? '' : ` -o User=${shellQuote(source.privateKeyUser)}`;
        env.GIT_SSH_COMMAND =
          `ssh -F /dev/null -i ${shellQuote(key)} -o IdentitiesOnly=yes -o StrictHostKeyChecking=no ` +
          `-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o BatchMode=${source.privateKeyPassphrase === undefined ? 'yes' : 'no'}${user}`;
        if (source.privateKeyPassphrase !== undefined) {
          env.OUTPOST_GIT_PASSPHRASE = source.privateKeyPassphrase;
          env.SSH_ASKPASS = askpass;
          env.SSH_ASKPASS_REQUIRE = 'force';
          env.DISPLAY = ':0';
          secrets.push(source.privateKeyPassphrase);
        }
        secrets.push(...source.privateKey.split('\n').filter((l) => l.trim().length >= 16));
      }
      const session = new GitSession(home, env, secrets, log, signal);
      // Who a merge, an annotated tag, a note or a commit is by, unless git_config says otherwise
      // (config, not GIT_AUTHOR_* variables, which would win over git_config).
      const config = [
        { name: 'user.name', value: 'Outpost' },
        { name: 'user.email', value: 'outpost@localhost' },
        ...source.gitConfig,
      ];
      for (const { name, value } of config) await session.must(['config', '--global', name, value]);
      return session;
    } catch (err) {
      await rm(home, { recursive: true, force: true });
      throw err;
    }
  }

  /** `text` with every credential (and a URL's user:password@) replaced by ***. */
  redact(text: string): string {
    let out = text.replace(/(\/\/)[^/@\s]*@/g, '$1***@');
    for (const secret of this.secrets) if (secret) out = out.split(secret).join('***');
    return out;
  }

  /** Runs git; its stderr goes to the step's log as it comes. */
  run(args: string[], opts: GitRunOptions = {}): Promise<GitResult> {
    return new Promise((resolve, reject) => {
      const child = spawn('git', args, {
        cwd: opts.cwd,
        env: { ...this.env, ...opts.env },
        stdio: ['pipe', 'pipe', 'pipe'],
        signal: this.signal,
      });
      let stdout = '';
      let stderr = '';
      let pending = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => {
        stderr += d;
        // Progress lines end in \r: log each finished line once.
        const lines = (pending + d).split(/\r?\n|\r/);
        pending = lines.pop() ?? '';
        for (const line of lines) if (line.trim()) this.log(this.redact(line));
      });
      child.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT')
          reject(
            new ResourceFailure(
              'git is not installed on this agent\'s host (no "git" on PATH): the built-in git resource runs the host\'s git',
            ),
          );
        else reject(err);
      });
      child.on('close', (code) => {
        if (pending.trim()) this.log(this.redact(pending));
        resolve({ code: code ?? 1, stdout, stderr });
      });
      child.stdin.on('error', () => {}); // git may exit before reading all of its input
      child.stdin.end(opts.input ?? '');
    });
  }

  /** Runs git and returns its stdout; a non-zero exit fails the step with git's own message. */
  async must(args: string[], opts: GitRunOptions = {}): Promise<string> {
    const result = await this.run(args, opts);
    if (result.code !== 0) {
      throw new ResourceFailure(
        this.redact(`git ${args[0] ?? ''} failed (exit ${result.code}): ${reason(result.stderr)}`),
      );
    }
    return result.stdout;
  }

  async dispose(): Promise<void> {
    await rm(this.home, { recursive: true, force: true });
  }
}

/** git's own reason: its first fatal/error line (the rest is advice), else its last line. */
export function reason(stderr: string): string {
  const lines = stderr
    .split(/\r?\n|\r/)
    .map((l) => l.trim())
    .filter((l) => l !== '');
  return lines.find((l) => /^(fatal|error):/.test(l)) ?? lines.at(-1) ?? '';
}

function shellQuote(text: string): string {
  return `'${text.replaceAll("'", "'\\''")}'`;
}
