// A step's process without a fork on its start: the step host keeps one `/bin/sh -s` started ahead of
// need (the spare), and a step's start hands it a few lines that end in `exec`, so the spare becomes
// the step: the same pid, process group and pipes, still the host's child (it survives an agent
// restart, as a spawned step does).
//
// Why: Node's spawn forks the whole host (page tables, then a copy-on-write fault for each page the
// host writes afterwards) and waits for the child's exec: 4-5 ms of the host's CPU and 9 ms or more of
// wall time on the 2-core VM of docs/performance.md, every one of them on the step's start. A spare
// pays its fork while the host is idle (after a step's end) and its own exec is all that is left.
//
// What a user sees must not change, so a spare is used only when the start would go the same way:
//  - a failed exec (the shell prints a message and exits 126/127) must not read as the step's own
//    exit status: an EXIT trap, which runs only when the exec failed, writes that status to
//    `<stateDir>/exec-error` and the step ends errored with the spawn's message;
//  - and to keep even that rare: only a command that the host finds executable first (an ELF or a
//    script whose `#!` interpreter is executable) in a directory that exists, with no run_as user, an
//    environment of plain names the shell does not keep for itself, a PATH to search when the command
//    has no slash, and no NUL bytes.
//    Anything else is spawned as before, with its errors as before.
//  - the shell must behave as this expects: `probe()` checks once per host that an exec'd step sees
//    exactly its environment and that a failed exec is reported (dash and busybox ash do; bash does
//    not run the trap and exports SHLVL, so a host whose /bin/sh is bash spawns every step).
//
// Runs inside the step host, so it imports node and its own folder's node-only modules.
import { spawn, type ChildProcess } from 'node:child_process';
import {
  accessSync,
  closeSync,
  constants,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
} from 'node:fs';
import path from 'node:path';
import type { LaunchSpec } from './state.js';

const SHELL = '/bin/sh';
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
// Names the shell keeps for itself (read-only, or rewritten on every line): the step would not see its value.
const SHELL_OWNED = new Set(['PPID', 'LINENO', 'OPTIND', 'OPTARG']);
// How long the probe's two shells may take (a loaded machine); past it, steps are spawned.
const PROBE_TIMEOUT_MS = 10_000;

/** `text` as one single-quoted shell word. */
function quote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

function isExecutableFile(file: string): boolean {
  try {
    if (!statSync(file).isFile()) return false;
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The file's first bytes, or undefined when it cannot be read (an execute-only binary, say). */
function head(file: string, bytes: number): Buffer | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const buf = Buffer.alloc(bytes);
    return buf.subarray(0, readSync(fd, buf, 0, bytes, 0));
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

const MACHO_MAGICS = new Set([0xfeedface, 0xfeedfacf, 0xcefaedfe, 0xcffaedfe, 0xcafebabe]);

/** Whether exec of `file` starts it as such: a native binary, or a script whose interpreter is executable. */
function execsCleanly(file: string): boolean {
  const start = head(file, 256);
  if (!start || start.length < 4) return false;
  if (start[0] === 0x7f && start.toString('latin1', 1, 4) === 'ELF') return true;
  if (MACHO_MAGICS.has(start.readUInt32BE(0))) return true;
  if (start.toString('latin1', 0, 2) !== '#!') return false;
  const line = start.toString('latin1', 2).split('\n')[0] ?? '';
  const interpreter = line.trim().split(/[ \t]/)[0] ?? '';
  // A shebang line cut off by the 256 bytes read, or a relative interpreter: spawn decides.
  return start.includes(0x0a) && path.isAbsolute(interpreter) && isExecutableFile(interpreter);
}

/** Where `exec file` would find the command (execvp's search), or undefined when the host cannot tell. */
function resolveCommand(spec: LaunchSpec): string | undefined {
  if (spec.file.includes('/')) return path.isAbsolute(spec.file) ? spec.file : undefined;
  const searchPath = spec.env.PATH;
  if (searchPath === undefined) return undefined;
  for (const dir of searchPath.split(':')) {
    // An empty or relative entry is resolved against the cwd by the shell: leave that to spawn.
    if (!path.isAbsolute(dir)) return undefined;
    const candidate = path.join(dir, spec.file);
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

/** Whether a spare starts this step exactly as spawn would. */
export function spareCanStart(spec: LaunchSpec): boolean {
  if (process.platform === 'win32' || spec.uid !== undefined || spec.gid !== undefined) return false;
  const words = [spec.file, spec.cwd, ...spec.args, ...Object.entries(spec.env).flat()];
  if (words.some((w) => w.includes('\0'))) return false;
  if (!Object.keys(spec.env).every((name) => ENV_NAME.test(name) && !SHELL_OWNED.has(name))) return false;
  try {
    if (!statSync(spec.cwd).isDirectory()) return false;
  } catch {
    return false;
  }
  const command = resolveCommand(spec);
  return command !== undefined && isExecutableFile(command) && execsCleanly(command);
}

/** The lines that turn a spare into the step (see the header). */
function script(spec: LaunchSpec, execErrorFile: string): string {
  const env = Object.entries(spec.env).map(([name, value]) => quote(`${name}=${value}`));
  return [
    `trap ${quote(`echo "$?" >${quote(execErrorFile)}`)} EXIT`,
    `cd -- ${quote(spec.cwd)} || exit`,
    // cd sets them; spawn gives the step only its own environment.
    'unset PWD OLDPWD',
    ...(env.length > 0 ? [`export ${env.join(' ')}`] : []),
    `exec ${[spec.file, ...spec.args].map(quote).join(' ')} </dev/null`,
    '',
  ].join('\n');
}

/** Why a step's exec failed, from the status the spare's shell left in `execErrorFile`; undefined: it did not. */
export function execFailure(execErrorFile: string): NodeJS.ErrnoException | undefined {
  let text: string;
  try {
    text = readFileSync(execErrorFile, 'utf8').trim();
  } catch {
    return undefined;
  }
  const status = Number(text);
  // The shell's convention: 127 not found, 126 found but not executable.
  const code = status === 127 ? 'ENOENT' : status === 126 ? 'EACCES' : undefined;
  const err: NodeJS.ErrnoException = new Error(`exec failed (the shell's status ${text})`);
  if (code) err.code = code;
  return err;
}

function startShell(cwd: string): ChildProcess {
  const child = spawn(SHELL, ['-s'], {
    cwd,
    // The step's environment comes with its script; the shell itself needs none.
    env: {},
    // As spawn does for a step: its own session and process group, stdout and stderr piped.
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  child.on('error', () => undefined); // no /bin/sh: seen as an exit
  return child;
}

/** The probe's run of one script: its exit code and stdout. */
function runScript(child: ChildProcess, text: string): Promise<{ code: number | null; stdout: string }> {
  let stdout = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr?.resume();
  child.stdin?.on('error', () => undefined);
  child.stdin?.end(text);
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout })));
}

/** The host's one spare shell (see the header). */
export class SpareShell {
  private spare: ChildProcess | undefined;
  /** Forgets the spare should it exit while it waits (killed from outside). */
  private onSpareExit: (() => void) | undefined;
  private state: 'unprobed' | 'probing' | 'usable' | 'unusable' = 'unprobed';

  /** `dir`: the host's own directory (the spares' cwd and the probe's scratch files). */
  constructor(private readonly dir: string) {}

  /**
   * A spare turned into the step, its pipes those of the step; undefined when there is no spare or
   * the step must be spawned. The spare is gone either way until the next `refill()`.
   */
  take(spec: LaunchSpec, execErrorFile: string): ChildProcess | undefined {
    const spare = this.spare;
    // A spare killed from outside whose exit the host has not heard yet is no spare.
    if (!spare || spare.exitCode !== null || spare.signalCode !== null || !spareCanStart(spec))
      return undefined;
    this.spare = undefined;
    if (this.onSpareExit) spare.off('exit', this.onSpareExit);
    spare.stdin?.on('error', () => undefined);
    spare.stdin?.end(script(spec, execErrorFile));
    return spare;
  }

  /** Starts a spare if none waits (checking the shell first, once): call when the host is idle. */
  refill(): void {
    if (process.platform === 'win32') return;
    if (this.state === 'unprobed') {
      this.state = 'probing';
      void this.probe().then((ok) => {
        this.state = ok ? 'usable' : 'unusable';
        if (ok) this.refill();
      });
      return;
    }
    if (this.state !== 'usable' || this.spare) return;
    const spare = startShell(this.dir);
    if (spare.pid === undefined) return;
    this.spare = spare;
    this.onSpareExit = () => {
      if (this.spare === spare) this.spare = undefined;
    };
    spare.once('exit', this.onSpareExit);
  }

  /** Ends the waiting spare (it would also end on its own once the host's end of its stdin closes). */
  close(): void {
    this.spare?.stdin?.end();
    this.spare = undefined;
  }

  /** Whether /bin/sh turns into a step as `script` expects: exactly the step's env, a failed exec reported. */
  private async probe(): Promise<boolean> {
    const errorFile = path.join(this.dir, `probe-exec-error-${process.pid}`);
    const env = '/usr/bin/env';
    if (!isExecutableFile(env)) return false;
    const value = "a b'c\nd";
    const spec = (file: string): LaunchSpec => ({
      file,
      args: [],
      cwd: this.dir,
      env: { OUTPOST_PROBE: value },
      runPath: file,
      timeoutMs: 0,
      timeoutGraceMs: 0,
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>(
      (resolve) => (timer = setTimeout(() => resolve(false), PROBE_TIMEOUT_MS)),
    );
    try {
      rmSync(errorFile, { force: true });
      const ran = await Promise.race([
        runScript(startShell(this.dir), script(spec(env), errorFile)),
        timeout,
      ]);
      if (!ran || ran.code !== 0 || ran.stdout !== `OUTPOST_PROBE=${value}\n` || execFailure(errorFile))
        return false;
      const missing = path.join(this.dir, 'no-such-command');
      const failed = await Promise.race([
        runScript(startShell(this.dir), script(spec(missing), errorFile)),
        timeout,
      ]);
      return failed !== false && failed.code === 127 && execFailure(errorFile)?.code === 'ENOENT';
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
      rmSync(errorFile, { force: true });
    }
  }
}
