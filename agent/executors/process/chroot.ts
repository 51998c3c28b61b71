// A step with an image (ExecStep.rootfs: a task's image_resource fetched by the agent) on a process
// pool runs chrooted into its own copy of the image's root filesystem, in a private mount namespace
// where the step's work and temp directories are bind-mounted at their own paths, so every path the
// step is given (its working directory, inputs, outputs, TMPDIR) is the same inside and out, and
// /proc and /dev are there. It needs Linux, root and util-linux `unshare`; elsewhere the step is
// refused with why (a process pool never runs an image's task on the host's filesystem instead).

import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { LaunchSpec } from './state.js';

const UNSHARE = ['/usr/bin/unshare', '/bin/unshare'];

/** Why this agent cannot run a step in an image's rootfs, or undefined when it can. */
export function chrootProblem(): string | undefined {
  const why = 'a task with an image_resource on a process pool runs chrooted into the image';
  if (process.platform !== 'linux')
    return `${why}, which needs a Linux agent (this one is ${process.platform})`;
  if (process.getuid?.() !== 0)
    return `${why}, which needs the agent to run as root (it runs as uid ${process.getuid?.() ?? '?'}); leave image_resource out to run on the host`;
  if (!UNSHARE.some((f) => existsSync(f))) return `${why}, which needs util-linux unshare (not found)`;
  return undefined;
}

/** Copies the shared rootfs to `<stepRoot>/rootfs` (the step may write anywhere in it). */
export function copyRootfs(image: string, stepRoot: string): string {
  const own = path.join(stepRoot, 'rootfs');
  execFileSync('cp', ['-a', '--reflink=auto', `${image}/.`, own], { stdio: 'ignore' });
  return own;
}

// Runs in the new mount namespace with the host's tools: $1 root, $2 the bind count, then the
// directories to bind, then the step's cwd, then argv. The second unshare only chroots and changes
// directory, so the image needs no shell of its own.
const ENTER = [
  'cpath=$PATH; PATH=/usr/sbin:/usr/bin:/sbin:/bin',
  'root=$1; n=$2; shift 2',
  'fail() { echo "outpost: cannot prepare the image root: $1" >&2; exit 125; }',
  'while [ "$n" -gt 0 ]; do',
  '  mkdir -p "$root$1" && mount --bind "$1" "$root$1" || fail "bind $1"',
  '  shift; n=$((n-1))',
  'done',
  'mkdir -p "$root/proc" "$root/dev" && mount -t proc proc "$root/proc" && mount --rbind /dev "$root/dev" || fail "mount /proc and /dev"',
  'cwd=$1; shift',
  'unshare=$(command -v unshare)',
  'PATH=$cpath',
  'exec "$unshare" --root="$root" --wd="$cwd" -- "$@"',
].join('\n');

/** The launch of `launch` inside `rootfs`, with `binds` (absolute host directories) at their paths. */
export function chrooted(launch: LaunchSpec, rootfs: string, binds: string[]): LaunchSpec {
  const unshare = UNSHARE.find((f) => existsSync(f)) ?? 'unshare';
  return {
    ...launch,
    file: unshare,
    args: [
      '--mount',
      '--propagation',
      'private',
      '--',
      '/bin/sh',
      '-c',
      ENTER,
      'sh',
      rootfs,
      String(binds.length),
      ...binds,
      launch.cwd,
      launch.file,
      ...launch.args,
    ],
  };
}
