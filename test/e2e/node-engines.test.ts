// The Node.js versions package.json's `engines` admits are those every installed package admits too: a
// dependency declaring a newer Node (cookie 2 wants >= 22, pulled by fastify's light-my-request) would
// make `npm install` on Node 20 warn, or fail under engine-strict, for an operator who did nothing wrong.
// And the lock must be one an operator's install reproduces: npm ignores `overrides` (and our lock) when
// outpost is installed from its tarball, so every resolved version must satisfy the range its dependent
// declares; that is why light-my-request is pinned as a dependency (6.6.0 wants cookie ^1) instead.

import { readFileSync } from 'node:fs';
import semver from 'semver';
import { describe, expect, it } from 'vitest';

interface LockPackage {
  version?: string;
  engines?: { node?: string } | string[];
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

const read = <T>(file: string) =>
  JSON.parse(readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8')) as T;

const lock = read<{ packages: Record<string, LockPackage> }>('package-lock.json');

/** Where Node's resolution finds `name` from the package installed at `where` (a lock key). */
function resolve(where: string, name: string): string | undefined {
  let dir = where;
  for (;;) {
    const candidate = `${dir === '' ? '' : `${dir}/`}node_modules/${name}`;
    if (lock.packages[candidate] !== undefined) return candidate;
    if (dir === '') return undefined;
    const up = dir.lastIndexOf('/node_modules/');
    dir = up < 0 ? '' : dir.slice(0, up);
  }
}

describe('Node.js engines', () => {
  it('every package in package-lock.json admits the oldest Node.js our engines allow', () => {
    const ours = read<{ engines: { node: string } }>('package.json').engines.node;
    const oldest = semver.minVersion(ours)!.version;
    const refusing = Object.entries(lock.packages)
      .map(([where, pkg]) => ({
        where,
        version: pkg.version,
        node: Array.isArray(pkg.engines) ? undefined : pkg.engines?.node,
      }))
      .filter((p) => p.where !== '' && p.node !== undefined && !semver.satisfies(oldest, p.node))
      .map((p) => `${p.where}@${p.version} wants node ${p.node}`);
    expect(refusing, `Node.js ${oldest} (package.json engines ${ours})`).toEqual([]);
  });

  it('every version in package-lock.json satisfies the range its dependent declares (no overrides)', () => {
    expect(
      read<{ overrides?: unknown }>('package.json').overrides,
      'npm ignores overrides in a packed install',
    ).toBe(undefined);
    const unsatisfied: string[] = [];
    for (const [where, pkg] of Object.entries(lock.packages)) {
      const wanted = { ...pkg.optionalDependencies, ...pkg.dependencies };
      for (const [name, range] of Object.entries(wanted)) {
        const found = resolve(where, name);
        const version = found === undefined ? undefined : lock.packages[found]?.version;
        if (version === undefined) continue; // an optional dependency for another platform
        if (semver.validRange(range) !== null && !semver.satisfies(version, range))
          unsatisfied.push(`${where || 'outpost'} wants ${name}@${range}, the lock has ${version}`);
      }
    }
    expect(unsatisfied).toEqual([]);
  });
});
