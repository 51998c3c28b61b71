// Version tags as registry-image-resource reads them (Masterminds semver): `1`, `1.2`, `v1.2.3`,
// `1.2.3-rc.1` are versions; the missing parts are zero for ordering, and the tag keeps its text.
// Ordering and constraints use the `semver` package on the normalised version.

import semver from 'semver';
import { ResourceFailure } from '../builtin.js';

export interface TagVersion {
  tag: string;
  /** MAJOR.MINOR.PATCH[-PRE] */
  normal: string;
  prerelease: string;
  /** How many parts the tag wrote (1.2 -> 2, 1.2.3-rc.1 -> 3 + 1): the more specific, the better. */
  dots: number;
}

const MASTERMINDS =
  /^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$/;

export function parseVersion(text: string): TagVersion | undefined {
  const m = MASTERMINDS.exec(text);
  if (!m) return undefined;
  const pre = m[4] ?? '';
  const normal = `${Number(m[1])}.${Number(m[2] ?? 0)}.${Number(m[3] ?? 0)}${pre ? `-${pre}` : ''}`;
  if (!semver.valid(normal)) return undefined;
  return { tag: text, normal, prerelease: pre, dots: (text.match(/\./g) ?? []).length };
}

export function compare(a: TagVersion, b: TagVersion): number {
  return semver.compare(a.normal, b.normal);
}

/** Masterminds' constraint syntax (commas and spaces both AND) as a `semver` range. */
export function parseConstraint(text: string): (v: TagVersion) => boolean {
  const range = semver.validRange(text.replaceAll(',', ' '));
  if (range === null)
    throw new ResourceFailure(`source.semver_constraint ${JSON.stringify(text)} is not a semver constraint`);
  return (v) => semver.satisfies(v.normal, range);
}

/** The tag `params.version` pushes: the version normalised (no `v`), plus `-variant`. */
export function versionTag(text: string, variant: string | undefined): TagVersion & { push: string } {
  const v = parseVersion(text.trim());
  if (!v) throw new ResourceFailure(`invalid semantic version: ${JSON.stringify(text)}`);
  const build = /\+(.*)$/.exec(text)?.[1];
  const base = `${v.normal}${build ? `+${build}` : ''}`;
  return { ...v, push: variant ? `${base}-${variant}` : base };
}
