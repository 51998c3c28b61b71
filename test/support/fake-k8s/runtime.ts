// Runs "containers" as local process groups. Two isolation modes:
//  - chroot (default when running as root and `unshare` works): each container gets its own mount
//    namespace and a private root directory where the host's /usr, /bin, /lib, /etc (read-only) and
//    /dev, /proc are bind-mounted and every volumeMount is bind-mounted at its real mountPath. The
//    process sees the same paths it would see in a pod: `/workspace/out` is the emptyDir.
//  - none: the process runs on the host with cwd inside its root directory; mountPaths exist as
//    symlinks under $FAKE_KUBE_ROOT (set in its env), so scripts must say "$FAKE_KUBE_ROOT/workspace".
// Both modes report "executable not found" / bad workingDir as a StartError (exit 128), like runc.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync, symlinkSync } from 'node:fs';
import path from 'node:path';

export type Isolation = 'chroot' | 'none';

export interface Mount {
  source: string;
  target: string;
  readOnly: boolean;
}

/** Exit code the wrapper uses to say "the runtime could not start the process" (message on fd 3). */
export const START_ERROR_EXIT = 228;

/**
 * Reads the wrapper's fd 3 protocol: "R" once the command is about to be exec'd (mounts and chroot are
 * in place: only then is the container "running"), or "E<message>" when it cannot be started.
 */
export function watchStart(proc: ChildProcess, onStarted: () => void): { error: () => string } {
  let text = '';
  let started = false;
  (proc.stdio[3] as NodeJS.ReadableStream | null)?.on('data', (d: Buffer) => {
    text += d.toString();
    if (!started && text.startsWith('R')) {
      started = true;
      onStarted();
    }
  });
  proc.on('error', (err) => {
    text = `E${err.message}`;
  });
  return { error: () => (text.startsWith('E') ? text.slice(1) : '') };
}

// Inner script: runs with the container's view of the filesystem. $1 = workingDir, then argv.
const START = [
  'wd=$1; shift',
  'mkdir -p "$wd" 2>/dev/null; cd "$wd" 2>/dev/null || { printf "E%s" "failed to create containerd task: chdir to cwd (\\"$wd\\") set in config.json failed: no such file or directory" >&3; exit 228; }',
  'command -v "$1" >/dev/null 2>&1 || { printf "E%s" "failed to create containerd task: exec: \\"$1\\": executable file not found in \\$PATH" >&3; exit 228; }',
  'printf R >&3; exec "$@" 3>&-',
].join('\n');

// Outer script (chroot mode, inside a fresh mount namespace): $1 root, $2 workingDir, $3 mount count,
// $4 the inner script, $5 the top-level dirs the image provides (space-separated: not the host's), $6
// the setpriv words that drop to the container's user (empty: root), then (source target ro|rw)
// triples, then argv. PATH is the host's for the mounting, the container's after. The workingDir is
// created as root, as runc does.
const CHROOT = [
  'cpath=$PATH; PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  'root=$1; wd=$2; n=$3; start=$4; own=" $5 "; runas=$6; shift 6',
  'fail() { printf "E%s" "failed to create containerd task: $1" >&3; exit 228; }',
  'for d in usr etc opt bin sbin lib lib32 lib64 libx32; do',
  '  case "$own" in *" $d "*) continue ;; esac',
  '  if [ -L "/$d" ]; then [ -L "$root/$d" ] || ln -s "$(readlink "/$d")" "$root/$d"',
  '  elif [ -d "/$d" ]; then mkdir -p "$root/$d" && mount --rbind "/$d" "$root/$d" && mount -o remount,bind,ro "$root/$d" || fail "mount /$d"; fi',
  'done',
  'mkdir -p "$root/dev" "$root/proc" "$root/tmp" "$root/root" && chmod 1777 "$root/tmp"',
  'mount --rbind /dev "$root/dev" || fail "mount /dev"',
  'mount -t proc proc "$root/proc" || fail "mount /proc"',
  'while [ "$n" -gt 0 ]; do',
  '  src=$1; tgt=$2; ro=$3; shift 3; n=$((n-1))',
  '  mkdir -p "$root$tgt" && mount --bind "$src" "$root$tgt" || fail "error mounting \\"$src\\" to rootfs at \\"$tgt\\""',
  '  if [ "$ro" = ro ]; then mount -o remount,bind,ro "$root$tgt" || fail "remount $tgt read-only"; fi',
  'done',
  'mkdir -p "$root$wd" 2>/dev/null',
  'PATH=$cpath',
  'exec chroot "$root" $runas /bin/sh -c "$start" sh "$wd" "$@"',
].join('\n');

let detected: Isolation | undefined;

/** chroot when we are root and may create mount namespaces, else none. */
export function detectIsolation(): Isolation {
  if (detected) return detected;
  const ok =
    process.getuid?.() === 0 &&
    spawnSync(
      'unshare',
      ['--mount', '--propagation', 'private', '--', 'mount', '-t', 'tmpfs', 'none', '/mnt'],
      {
        stdio: 'ignore',
      },
    ).status === 0;
  detected = ok ? 'chroot' : 'none';
  return detected;
}

export interface Launch {
  isolation: Isolation;
  /** Per-container root directory on the host. */
  rootfs: string;
  /** Top-level dirs of `rootfs` that hold the image's own files: the host's are not mounted over them. */
  imageDirs?: string[];
  workingDir: string;
  mounts: Mount[];
  argv: string[];
  env: Record<string, string>;
  stdin: boolean;
  /** Who the process runs as (chroot isolation only: without root, every process is the test's user). */
  runAs?: RunAs;
}

/** uid, gid and supplementary groups of a container's processes. */
export interface RunAs {
  uid: number;
  gid: number;
  groups: number[];
}

/** The setpriv words that drop to `runAs` before the container's command; none for root. */
function dropTo(runAs: RunAs | undefined): string {
  if (!runAs || (runAs.uid === 0 && runAs.gid === 0 && runAs.groups.length === 0)) return '';
  const groups = runAs.groups.length ? `--groups=${runAs.groups.join(',')}` : '--clear-groups';
  return `setpriv --reuid=${runAs.uid} --regid=${runAs.gid} ${groups} --`;
}

/**
 * A process that exits (or is killed) while a client still writes to its stdin makes the pipe fail with
 * EPIPE; a real kubelet just drops the rest of the input, and so does the fake.
 */
function dropInputAfterExit(child: ChildProcess): ChildProcess {
  child.stdin?.on('error', () => undefined);
  return child;
}

/** Starts the container's main process in its own process group (so it can be killed as a unit). */
export function launch(l: Launch): ChildProcess {
  return dropInputAfterExit(spawnContainer(l));
}

function spawnContainer(l: Launch): ChildProcess {
  mkdirSync(l.rootfs, { recursive: true });
  const stdio: ['pipe' | 'ignore', 'pipe', 'pipe', 'pipe'] = [
    l.stdin ? 'pipe' : 'ignore',
    'pipe',
    'pipe',
    'pipe',
  ];
  if (l.isolation === 'chroot') {
    const mountArgs = l.mounts.flatMap((m) => [m.source, m.target, m.readOnly ? 'ro' : 'rw']);
    return spawn(
      'unshare',
      [
        '--mount',
        '--propagation',
        'private',
        '--',
        '/bin/sh',
        '-c',
        CHROOT,
        'sh',
        l.rootfs,
        l.workingDir,
        String(l.mounts.length),
        START,
        (l.imageDirs ?? []).join(' '),
        dropTo(l.runAs),
        ...mountArgs,
        ...l.argv,
      ],
      { env: l.env, stdio, detached: true },
    );
  }
  for (const m of l.mounts) {
    const at = path.join(l.rootfs, m.target);
    mkdirSync(path.dirname(at), { recursive: true });
    rmSync(at, { recursive: true, force: true });
    symlinkSync(m.source, at);
  }
  const env = { ...l.env, FAKE_KUBE_ROOT: l.rootfs };
  return spawn('/bin/sh', ['-c', START, 'sh', path.join(l.rootfs, l.workingDir), ...l.argv], {
    env,
    cwd: l.rootfs,
    stdio,
    detached: true,
  });
}

export interface ExecTarget {
  isolation: Isolation;
  pid: number;
  rootfs: string;
  workingDir: string;
  env: Record<string, string>;
  runAs?: RunAs;
}

/** Runs a command "inside" a running container: same mount namespace, root, user and env. */
export function launchExec(t: ExecTarget, argv: string[], stdin: boolean): ChildProcess {
  return dropInputAfterExit(spawnExec(t, argv, stdin));
}

function spawnExec(t: ExecTarget, argv: string[], stdin: boolean): ChildProcess {
  const stdio: ['pipe' | 'ignore', 'pipe', 'pipe', 'pipe'] = [
    stdin ? 'pipe' : 'ignore',
    'pipe',
    'pipe',
    'pipe',
  ];
  if (t.isolation === 'chroot') {
    return spawn(
      'nsenter',
      [
        '-t',
        String(t.pid),
        '-m',
        '-r',
        '-w',
        '--',
        ...dropTo(t.runAs).split(' ').filter(Boolean),
        '/bin/sh',
        '-c',
        START,
        'sh',
        t.workingDir,
        ...argv,
      ],
      {
        env: t.env,
        stdio,
        detached: true,
      },
    );
  }
  return spawn('/bin/sh', ['-c', START, 'sh', path.join(t.rootfs, t.workingDir), ...argv], {
    env: { ...t.env, FAKE_KUBE_ROOT: t.rootfs },
    cwd: t.rootfs,
    stdio,
    detached: true,
  });
}

/** Signals a whole process group; ignores groups that are already gone. */
export function killGroup(proc: ChildProcess, signal: NodeJS.Signals): void {
  if (proc.pid === undefined) return;
  try {
    process.kill(-proc.pid, signal);
  } catch {
    // already exited
  }
}

export function signalExitCode(signal: NodeJS.Signals | null, code: number | null): number {
  if (code !== null) return code;
  const n: Partial<Record<NodeJS.Signals, number>> = {
    SIGKILL: 9,
    SIGTERM: 15,
    SIGINT: 2,
    SIGHUP: 1,
    SIGQUIT: 3,
  };
  return 128 + (signal ? (n[signal] ?? 0) : 0);
}
