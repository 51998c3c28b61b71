// The built-in `semver` type: Concourse's concourse/semver-resource with its `git` driver (the
// version is a file on a branch of a git repository, changed by a commit per bump). check reports the
// file's version (initial_version while there is none), get writes `number` and `version` (bumped
// locally when asked), put sets the version from a file or bumps it, pushing with a fresh clone and
// retrying when someone else pushed first. The other drivers (s3, gcs, swift) are refused by name.

import { type BuiltinContext, inside, ResourceFailure } from '../builtin.js';
import { Fields } from '../fields.js';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { isPlainObject } from '../protocol.js';
import { GitVersionFile } from './git-driver.js';
import { applyBump, type Bump, format, isBump, parseVersion } from './version.js';

const TYPE = 'semver';
const GIT_KEYS = [
  'driver',
  'initial_version',
  'uri',
  'branch',
  'file',
  'private_key',
  'username',
  'password',
  'git_user',
  'skip_ssl_verification',
  'commit_message',
];

export async function semverResource(ctx: BuiltinContext): Promise<unknown> {
  const request = JSON.parse(ctx.requestJson) as { source?: unknown; params?: unknown; version?: unknown };
  const source = Fields.of(request.source, 'source', TYPE);
  const driver = source.str('driver') ?? 's3';
  if (driver !== 'git')
    throw new ResourceFailure(
      `source.driver ${JSON.stringify(driver)} is not supported by Outpost's built-in semver resource (it has the git driver only; set driver: git, or run semver-resource from its image)`,
    );
  source.refuseUnknown(GIT_KEYS);
  const initialText = source.str('initial_version');
  const initial =
    initialText === undefined
      ? parseVersion('0.0.0', '')
      : parseVersion(initialText, 'source.initial_version');
  const given = isPlainObject(request.version) ? request.version.number : undefined;
  const number = typeof given === 'string' ? given : undefined;

  if (ctx.kind === 'get') {
    // As the original's `in`: no driver at all, only the given version, bumped locally if asked.
    if (number === undefined) throw new ResourceFailure('get needs a version ({number})');
    const params = Fields.of(request.params, 'params', TYPE);
    params.refuseUnknown(['bump', 'pre', 'pre_without_version', 'build', 'build_without_version']);
    const current = parseVersion(number, 'version.number');
    const bumped = format(applyBump(current, bumpOf(params)));
    if (bumped !== format(current)) ctx.log(`bumped locally from ${format(current)} to ${bumped}`);
    for (const name of ['number', 'version']) await writeFile(path.join(ctx.dir, name), bumped);
    return { version: { number }, metadata: [{ name: 'number', value: number }] };
  }

  const file = new GitVersionFile(source, initial, (line) => ctx.log(line), ctx.signal);
  try {
    if (ctx.kind === 'check') {
      const cursor = number === undefined ? undefined : tryParse(number, (line) => ctx.log(line));
      return (await file.check(cursor)).map((v) => ({ number: format(v) }));
    }
    const params = Fields.of(request.params, 'params', TYPE);
    params.refuseUnknown([
      'file',
      'bump',
      'pre',
      'pre_without_version',
      'build',
      'build_without_version',
      'get_latest',
    ]);
    const bump = bumpOf(params);
    const fromFile = params.str('file');
    let next;
    if (params.bool('get_latest')) next = (await file.check(undefined))[0] ?? initial;
    else if (fromFile !== undefined) {
      const text = await readFile(inside(ctx.dir, fromFile, 'params.file'), 'utf8').catch(() => {
        throw new ResourceFailure(`version file ${JSON.stringify(fromFile)} does not exist`);
      });
      next = parseVersion(text.split(/\s/)[0] ?? '', `the version in ${fromFile}`);
      await file.set(next);
    } else if (isBump(bump)) next = await file.bump((v) => applyBump(v, bump));
    else throw new ResourceFailure('no version bump specified (set params.file, params.bump or params.pre)');
    const value = format(next);
    return { version: { number: value }, metadata: [{ name: 'number', value }] };
  } finally {
    await file.dispose();
  }
}

function bumpOf(params: Fields): Bump {
  const bump = params.str('bump');
  if (bump !== undefined && !['major', 'minor', 'patch', 'final'].includes(bump))
    throw new ResourceFailure(
      `params.bump must be major, minor, patch or final, not ${JSON.stringify(bump)}`,
    );
  return {
    bump: bump as Bump['bump'],
    pre: params.str('pre'),
    preWithoutVersion: params.bool('pre_without_version') ?? false,
    build: params.str('build'),
    buildWithoutVersion: params.bool('build_without_version') ?? false,
  };
}

/** The check's cursor; an unreadable one is skipped, as the original does. */
function tryParse(number: string, log: (line: string) => void) {
  try {
    return parseVersion(number, 'version.number');
  } catch (err) {
    log(`skipping invalid current version: ${(err as Error).message}`);
    return undefined;
  }
}
