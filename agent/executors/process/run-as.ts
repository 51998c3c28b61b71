// A process pool's `run_as`: the unprivileged user its steps run as, so a step cannot read the agent's
// token, its config or another pool's step directories. The agent stays root (or holds the capabilities
// below): it creates each step's directories, hands the work and tmp dirs to the user (0700), reads the
// outputs back and removes everything after the step. Everything here is checked once, at agent start,
// so a pool that cannot keep its promise refuses to start instead of running steps as the agent.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, lchown, mkdir, readdir, stat } from 'node:fs/promises';
import path from 'node:path';

/** The user a pool's steps run as. */
export interface StepUser {
  /** As the pool config gave it (`nobody`, `1000`, `1000:1000`), for messages. */
  name: string;
  uid: number;
  gid: number;
}

/** `run_as` cannot be honoured; the message names the pool setting and what to do. */
export class RunAsError extends Error {
  override readonly name = 'RunAsError';
}

// Linux capability bits (linux/capability.h) the agent needs to act for another user: give it the
// step's directories, read its outputs and delete them afterwards, signal its processes, switch to it.
const NEEDED_CAPS: [bit: number, name: string][] = [
  [0, 'CAP_CHOWN'],
  [1, 'CAP_DAC_OVERRIDE'],
  [5, 'CAP_KILL'],
  [6, 'CAP_SETGID'],
  [7, 'CAP_SETUID'],
];

/**
 * Resolves `run_as` (a user name, `uid` or `uid:gid`) and checks that this agent can run steps as it:
 * a POSIX host, an agent that is root or holds the capabilities, and a user that is neither root nor
 * the agent's own (either would leave the token readable). Throws RunAsError.
 */
export function resolveRunAs(spec: string, platform: NodeJS.Platform = process.platform): StepUser {
  const label = `run_as ${JSON.stringify(spec)}`;
  if (platform === 'win32' || process.getuid === undefined)
    throw new RunAsError(`${label}: running steps as another user is not supported on Windows`);
  const missing = missingPrivileges();
  if (missing)
    throw new RunAsError(
      `${label}: the agent must run as root or with ${NEEDED_CAPS.map(([, n]) => n).join(', ')} to run steps as another user (${missing})`,
    );
  const numeric = /^(\d+)(?::(\d+))?$/.exec(spec);
  const uid = numeric ? Number(numeric[1]) : idOf(spec, '-u', label);
  const gid = numeric?.[2] !== undefined ? Number(numeric[2]) : idOf(spec, '-g', label);
  if (uid === 0 || gid === 0) throw new RunAsError(`${label}: must be an unprivileged user, not root`);
  if (uid === process.getuid())
    throw new RunAsError(`${label}: is the agent's own user; steps could read the agent's token`);
  return { name: spec, uid, gid };
}

/** Why this process cannot switch users, or undefined when it can. */
function missingPrivileges(): string | undefined {
  if (process.platform !== 'linux') return process.getuid?.() === 0 ? undefined : 'it is not root';
  // Root in a container may lack some of them: the effective set is what counts.
  const status = existsSync('/proc/self/status') ? readFileSync('/proc/self/status', 'utf8') : '';
  const hex = /^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1];
  if (hex === undefined) return process.getuid?.() === 0 ? undefined : 'it is not root';
  const caps = BigInt(`0x${hex}`);
  const lacking = NEEDED_CAPS.filter(([bit]) => (caps & (1n << BigInt(bit))) === 0n).map(([, n]) => n);
  return lacking.length === 0 ? undefined : `missing: ${lacking.join(', ')}`;
}

/** The user's uid (`-u`) or primary gid (`-g`) as the system's user database has it (NSS, LDAP too). */
function idOf(user: string, flag: '-u' | '-g', label: string): number {
  try {
    const out = execFileSync('id', [flag, user], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return Number(out.trim());
  } catch {
    throw new RunAsError(
      /^\d+$/.test(user)
        ? `${label}: no user with this uid; give its group too (uid:gid)`
        : `${label}: no such user on this host`,
    );
  }
}

/**
 * Checks that `user` can reach `dir` (search permission on every existing ancestor), so that a step
 * does not fail later with a bare "permission denied". Throws RunAsError naming the blocking directory.
 */
export async function checkReachable(dir: string, user: StepUser): Promise<void> {
  for (let at = path.resolve(dir); ; at = path.dirname(at)) {
    const st = await stat(at).catch(() => undefined);
    // Not created yet: the agent creates it 0755 (umask permitting) when the first step comes.
    if (st?.isDirectory() && !searchable(st, user))
      throw new RunAsError(
        `run_as ${JSON.stringify(user.name)}: uid ${user.uid} cannot reach the step directories under ${dir}: ` +
          `${at} (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}, owner uid ${st.uid}) does not let it pass; ` +
          'make it traversable (chmod o+x) or set work_dir elsewhere',
      );
    if (path.dirname(at) === at) return;
  }
}

function searchable(st: { mode: number; uid: number; gid: number }, user: StepUser): boolean {
  if (st.uid === user.uid) return (st.mode & 0o100) !== 0;
  if (st.gid === user.gid) return (st.mode & 0o010) !== 0;
  return (st.mode & 0o001) !== 0;
}

/**
 * Hands a step its directories: `stepRoot` becomes passable but not listable for others (0711, still
 * the agent's, as is the supervisor state inside it); `dirs` and everything in them (inputs, caches)
 * become the user's, 0700. Symlinks are changed themselves, never followed.
 */
export async function handOver(stepRoot: string, dirs: string[], user: StepUser): Promise<void> {
  await chmod(stepRoot, 0o711);
  for (const dir of dirs) {
    await lchown(dir, user.uid, user.gid);
    await chmod(dir, 0o700);
    const entries = await readdir(dir, { recursive: true });
    for (const entry of entries) await lchown(path.join(dir, entry), user.uid, user.gid);
  }
}

/**
 * Locks the agent's work dir down for an agent with run_as pools: step users may pass through it to
 * their own step directories (`steps/<pool>`, 0711: passable, not listable), and nothing else in it is
 * theirs to read (the artifact cache, task caches, resource dirs, other pools' steps: 0700).
 */
export async function fenceWorkDir(
  workDir: string,
  pools: { name: string; runAs: boolean }[],
): Promise<void> {
  const modes: [string, number][] = [
    [workDir, 0o711],
    ...['cache', 'caches', 'resources'].map((d): [string, number] => [path.join(workDir, d), 0o700]),
    [path.join(workDir, 'steps'), 0o711],
    ...pools.map((p): [string, number] => [path.join(workDir, 'steps', p.name), p.runAs ? 0o711 : 0o700]),
  ];
  for (const [dir, mode] of modes) {
    await mkdir(dir, { recursive: true, mode });
    // An existing dir (an earlier start) keeps its mode otherwise.
    await chmod(dir, mode);
  }
}
