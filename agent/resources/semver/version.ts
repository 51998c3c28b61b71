// Semantic versions as concourse/semver-resource reads and bumps them (blang/semver: strict
// MAJOR.MINOR.PATCH[-PRE][+BUILD], no `v`): bump major/minor/patch/final, then `pre` (x.y.z-rc.N,
// counting up while the pre-release id stays the same) and `build` (x.y.z+id.N).

import semver from 'semver';
import { ResourceFailure } from '../builtin.js';

export interface Version {
  major: number;
  minor: number;
  patch: number;
  pre: (string | number)[];
  build: string[];
}

export interface Bump {
  bump: 'major' | 'minor' | 'patch' | 'final' | undefined;
  pre: string | undefined;
  preWithoutVersion: boolean;
  build: string | undefined;
  buildWithoutVersion: boolean;
}

export function parseVersion(text: string, what: string): Version {
  const parsed = semver.parse(text.trim());
  if (!parsed) throw new ResourceFailure(`${what} ${JSON.stringify(text.trim())} is not a semantic version`);
  return {
    major: parsed.major,
    minor: parsed.minor,
    patch: parsed.patch,
    pre: [...parsed.prerelease],
    build: [...parsed.build],
  };
}

export function format(v: Version): string {
  const pre = v.pre.length > 0 ? `-${v.pre.join('.')}` : '';
  const build = v.build.length > 0 ? `+${v.build.join('.')}` : '';
  return `${v.major}.${v.minor}.${v.patch}${pre}${build}`;
}

export function isBump(b: Bump): boolean {
  return b.bump !== undefined || b.pre !== undefined || b.build !== undefined;
}

export function applyBump(v: Version, b: Bump): Version {
  let out: Version = { ...v, pre: [...v.pre], build: [...v.build] };
  if (b.bump === 'major') out = { ...out, major: out.major + 1, minor: 0, patch: 0, pre: [] };
  if (b.bump === 'minor') out = { ...out, minor: out.minor + 1, patch: 0, pre: [] };
  if (b.bump === 'patch') out = { ...out, patch: out.patch + 1, pre: [] };
  if (b.bump === 'final') out = { ...out, pre: [] };
  if (b.pre !== undefined) {
    const [id, n] = out.pre;
    if (b.preWithoutVersion) out.pre = [b.pre];
    else if (out.pre.length < 2 || id !== b.pre || typeof n !== 'number') out.pre = [b.pre, 1];
    else out.pre = [b.pre, n + 1];
  }
  if (b.build !== undefined) {
    const [id, n] = out.build;
    const count = Number(n);
    if (b.buildWithoutVersion) out.build = [b.build];
    else if (out.build.length < 2 || id !== b.build || !Number.isInteger(count)) out.build = [b.build, '1'];
    else out.build = [b.build, String(count + 1)];
  }
  return out;
}

/** a < b in semver precedence (build metadata ignored). */
export function less(a: Version, b: Version): boolean {
  return semver.lt(format({ ...a, build: [] }), format({ ...b, build: [] }));
}
