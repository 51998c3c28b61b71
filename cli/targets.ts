// Saved targets: a YAML file at $OUTPOST_CONFIG or ~/.outpost/config.yaml (mode 0600, its directory
// 0700, since it holds tokens):
//
//   targets:
//     default:
//       url: https://hub.example.com
//       token: s3cret
//       team: main
//       ca_file: /etc/outpost/ca.pem      # optional
//       insecure_skip_verify: false       # optional
//       expires_at: 1767225600000         # a login token's expiry (Unix ms); renewed before it

import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { parse, stringify } from 'yaml';
import { CliError } from './io.js';

export interface Target {
  url: string;
  token: string;
  team: string;
  ca_file?: string;
  insecure_skip_verify?: boolean;
  /** Set for a user's login token, which the CLI renews before it expires; absent for API tokens. */
  expires_at?: number;
}

export interface TargetsFile {
  targets: Record<string, Target>;
}

export function configPath(env: Record<string, string | undefined>): string {
  if (env.OUTPOST_CONFIG) return env.OUTPOST_CONFIG;
  const home = env.HOME ?? env.USERPROFILE ?? homedir();
  return join(home, '.outpost', 'config.yaml');
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseTarget(name: string, raw: unknown, path: string): Target {
  const bad = (what: string): CliError => new CliError(`${path}: target '${name}': ${what}`);
  if (!isRecord(raw)) throw bad('must be a mapping');
  const { url, token, team, ca_file, insecure_skip_verify, expires_at } = raw;
  if (typeof url !== 'string' || url === '') throw bad('url must be a non-empty string');
  if (typeof token !== 'string') throw bad('token must be a string');
  if (team !== undefined && typeof team !== 'string') throw bad('team must be a string');
  if (ca_file !== undefined && ca_file !== null && typeof ca_file !== 'string')
    throw bad('ca_file must be a string');
  if (
    insecure_skip_verify !== undefined &&
    insecure_skip_verify !== null &&
    typeof insecure_skip_verify !== 'boolean'
  )
    throw bad('insecure_skip_verify must be true or false');
  if (expires_at !== undefined && expires_at !== null && typeof expires_at !== 'number')
    throw bad('expires_at must be a number');
  const target: Target = { url, token, team: team ?? 'main' };
  if (typeof expires_at === 'number') target.expires_at = expires_at;
  if (typeof ca_file === 'string') target.ca_file = ca_file;
  if (typeof insecure_skip_verify === 'boolean') target.insecure_skip_verify = insecure_skip_verify;
  return target;
}

export async function loadTargets(path: string): Promise<TargetsFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { targets: {} };
    throw new CliError(`could not read ${path}: ${(err as Error).message}`, 1, { cause: err });
  }
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new CliError(`${path} is not valid YAML: ${(err as Error).message}`, 1, { cause: err });
  }
  if (doc === null || doc === undefined) return { targets: {} };
  if (!isRecord(doc)) throw new CliError(`${path}: expected a mapping with a 'targets' key`);
  const raw = doc.targets ?? {};
  if (!isRecord(raw)) throw new CliError(`${path}: 'targets' must be a mapping`);
  const targets: Record<string, Target> = {};
  for (const [name, t] of Object.entries(raw)) targets[name] = parseTarget(name, t, path);
  return { targets };
}

/** Writes the file atomically (temp file + rename) with mode 0600; creates its directory with 0700. */
export async function saveTargets(path: string, file: TargetsFile): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, stringify(file), { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, path);
}

export async function getTarget(env: Record<string, string | undefined>, name: string): Promise<Target> {
  const path = configPath(env);
  const { targets } = await loadTargets(path);
  const target = targets[name];
  if (!target) {
    throw new CliError(
      `unknown target '${name}' (not in ${path}); log in first: outpost login -t ${name} --url URL --token TOKEN`,
    );
  }
  return target;
}

/** Removes a target; false when there was none of that name. */
export async function deleteTarget(env: Record<string, string | undefined>, name: string): Promise<boolean> {
  const path = configPath(env);
  const file = await loadTargets(path);
  if (!file.targets[name]) return false;
  await saveTargets(path, {
    targets: Object.fromEntries(Object.entries(file.targets).filter(([n]) => n !== name)),
  });
  return true;
}

export async function saveTarget(
  env: Record<string, string | undefined>,
  name: string,
  target: Target,
): Promise<void> {
  const path = configPath(env);
  const file = await loadTargets(path);
  file.targets[name] = target;
  await saveTargets(path, file);
}
