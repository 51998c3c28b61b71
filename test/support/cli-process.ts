// The `outpost` CLI as a real child process (`node --import tsx cli/main.ts`, no build needed), for
// tests that need what in-process runs cannot give: signals (Ctrl-C), a real stdin and exit codes.

import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** tsx's loader by path: the CLI runs in a directory of the test's, where `tsx` does not resolve. */
const TSX = pathToFileURL(path.join(ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;

export interface CliProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves once stdout or stderr holds `text`. */
  waitFor(text: string): Promise<void>;
  /** The exit code (a signal's death counts as null). */
  exited: Promise<number | null>;
}

function shellQuote(arg: string): string {
  return `'${arg.replaceAll("'", "'\\''")}'`;
}

/** Runs `outpost ARGS` in `cwd` with `env` added to a minimal environment (HOME: the sandbox's). */
export function spawnCli(
  args: string[],
  opts: { cwd: string; env: Record<string, string>; stdin?: string; tty?: boolean },
): CliProcess {
  const argv = [process.execPath, '--import', TSX, path.join(ROOT, 'cli', 'main.ts'), ...args];
  // util-linux `script` gives the CLI a pseudo-terminal, as a user's shell does (-e: its exit code).
  const [command, ...rest] = opts.tty
    ? ['script', '-qfec', argv.map(shellQuote).join(' '), '/dev/null']
    : argv;
  const child = spawn(command!, rest, {
    cwd: opts.cwd,
    env: { PATH: process.env.PATH ?? '', ...opts.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const waiters: { text: string; resolve: () => void }[] = [];
  const check = () => {
    for (const w of [...waiters])
      if (out.includes(w.text) || err.includes(w.text)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
  };
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    check();
  });
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
    check();
  });
  child.stdin.end(opts.stdin ?? '');
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor: (text) =>
      new Promise<void>((resolve, reject) => {
        waiters.push({ text, resolve });
        check();
        void exited.then((code) =>
          reject(
            new Error(`outpost exited (${code}) before printing ${JSON.stringify(text)}:\n${out}\n${err}`),
          ),
        );
      }),
  };
}
