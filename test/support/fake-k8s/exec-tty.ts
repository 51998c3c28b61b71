// pods/exec with tty=true: as a container runtime does, the command gets a pseudo-terminal, here from
// util-linux script(1) run in the container's view (the host's tool, like every tool in the fake), and
// the size the client sends on the resize channel is set on that terminal (stty on the terminal the
// command holds, which also sends it SIGWINCH). Linux only, like the rest of the fake.

import { spawnSync } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';

/** argv run under a terminal: script's child shell execs the command. */
export function underTerminal(argv: string[]): string[] {
  return ['script', '-qfec', `exec ${argv.map(quote).join(' ')}`, '/dev/null'];
}

/** The resize channel's payload ({"Width","Height"}; Go's JSON reads keys case-insensitively). */
export function parseTerminalSize(payload: Buffer): { rows: number; cols: number } | undefined {
  try {
    const v = JSON.parse(payload.toString('utf8')) as Record<string, unknown>;
    const pick = (name: string) => Object.entries(v).find(([k]) => k.toLowerCase() === name)?.[1];
    const rows = pick('height');
    const cols = pick('width');
    if (typeof rows !== 'number' || typeof cols !== 'number' || rows < 1 || cols < 1) return undefined;
    return { rows, cols };
  } catch {
    return undefined;
  }
}

/**
 * Sets the terminal size of the command `script` (process `pid`) runs. Until script has started its
 * child, the latest size waits and is set as soon as the child is there.
 */
export function terminalSizer(pid: number): (size: { rows: number; cols: number }) => void {
  let pending: { rows: number; cols: number } | undefined;
  let timer: NodeJS.Timeout | undefined;
  let tries = 0;
  const apply = () => {
    timer = undefined;
    const size = pending;
    if (!size) return;
    const terminal = terminalOf(pid);
    const set =
      terminal !== undefined &&
      spawnSync('stty', ['-F', terminal, 'rows', String(size.rows), 'cols', String(size.cols)]).status === 0;
    if (set) {
      if (pending === size) pending = undefined;
      // script forks its child right after it starts: give it a moment, not for ever.
    } else if (tries++ < 200) timer = setTimeout(apply, 10);
  };
  return (size) => {
    pending = size;
    if (timer === undefined) apply();
  };
}

/** The terminal script's child holds as stdin (/proc/<child>/fd/0), once it is there. */
function terminalOf(pid: number): string | undefined {
  try {
    const child = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ')[0];
    if (!child) return undefined;
    const fd = `/proc/${child}/fd/0`;
    return readlinkSync(fd).includes('/pts/') ? fd : undefined;
  } catch {
    return undefined;
  }
}

function quote(arg: string): string {
  return `'${arg.replaceAll("'", "'\\''")}'`;
}
