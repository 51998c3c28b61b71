// The Node.js versions package.json's `engines` admits are those every installed package admits too: a
// dependency declaring a newer Node (cookie 2 wants >= 22, pulled by fastify's light-my-request) would
// make `npm install` on Node 20 warn, or fail under engine-strict, for an operator who did nothing wrong.

import { readFileSync } from 'node:fs';
import semver from 'semver';
import { describe, expect, it } from 'vitest';

interface LockPackage {
  version?: string;
  engines?: { node?: string } | string[];
}

const read = <T>(file: string) =>
  JSON.parse(readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8')) as T;

describe('Node.js engines', () => {
  it('every package in package-lock.json admits the oldest Node.js our engines allow', () => {
    const ours = read<{ engines: { node: string } }>('package.json').engines.node;
    const oldest = semver.minVersion(ours)!.version;
    const lock = read<{ packages: Record<string, LockPackage> }>('package-lock.json');
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
});
