// The built-in registry-image resource against a real registry on loopback (Debian's docker-registry,
// distribution v2.8): without auth, with htpasswd (Basic) auth, with token (Bearer) auth, and over
// TLS. The images are built by the test (tar layers, config, manifests) and pushed with plain
// registry API calls (test/support/registry.ts).

import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, readdir, readlink, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BuiltinContext } from '../builtin.js';
import { registryImage } from './registry-image.js';
import {
  buildImage,
  buildIndex,
  type BuiltImage,
  digestOf,
  pushImage,
  registryUnavailable,
  startRegistry,
  type TestRegistry,
} from '../../../test/support/registry.js';
import { startFlakyFront } from '../../../test/support/flaky-front.js';
import { MAX_ATTEMPTS } from './client.js';
import { requireAll, requiredMessage } from '../../../test/support/require-all.js';

const unavailable = registryUnavailable();
if (unavailable && requireAll) throw new Error(requiredMessage(unavailable));
if (unavailable) console.log(`skipped: ${unavailable}`);

let root: string;
let plain: TestRegistry;

type Kind = BuiltinContext['kind'];

async function run(
  kind: Kind,
  request: Record<string, unknown>,
  dir?: string,
  lines: string[] = [],
): Promise<unknown> {
  const at = dir ?? (await mkdtemp(path.join(root, `${kind}-`)));
  return registryImage({
    kind,
    requestJson: JSON.stringify({ params: {}, version: null, ...request }),
    dir: at,
    env: {},
    privileged: false,
    log: (line) => lines.push(line),
    signal: new AbortController().signal,
    now: () => new Date(),
  });
}

function failure(kind: Kind, request: Record<string, unknown>, dir?: string): Promise<string> {
  return run(kind, request, dir).then(
    () => 'succeeded',
    (err: unknown) => (err as Error).message,
  );
}

async function image(layers: Parameters<typeof buildImage>[1], config?: Parameters<typeof buildImage>[2]) {
  return buildImage(path.join(root, 'build'), layers, config);
}

describe.skipIf(unavailable !== undefined)('registry-image against a real registry', () => {
  let app1: BuiltImage;
  let app2: BuiltImage;

  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'outpost-registry-image-'));
    plain = await startRegistry(path.join(root, 'plain'));
    app1 = await image([{ 'etc/motd': 'one\n' }], { Labels: { 'org.opencontainers.image.version': '1' } });
    app2 = await image([{ 'etc/motd': 'two\n' }]);
    await pushImage(plain, 'app', ['current'], app1);
  });

  /** The image app1 (tag current) fetched into `dir` as `format`, as a task's input would hold it. */
  const getApp1 = (dir: string, format: 'oci' | 'oci-layout') =>
    run(
      'get',
      {
        source: { repository: `${plain.host}/app` },
        version: { tag: 'current', digest: app1.digest },
        params: { format },
      },
      dir,
    );

  afterAll(async () => {
    await plain.close();
    if (root) await rm(root, { recursive: true, force: true });
  });

  describe('check', () => {
    it('with tag: reports the digest the tag points to, then the given version and the new one', async () => {
      const source = { repository: `${plain.host}/app`, tag: 'current' };
      expect(await run('check', { source })).toEqual([{ tag: 'current', digest: app1.digest }]);
      await pushImage(plain, 'app', ['current'], app2);
      expect(await run('check', { source, version: { tag: 'current', digest: app1.digest } })).toEqual([
        { tag: 'current', digest: app1.digest },
        { tag: 'current', digest: app2.digest },
      ]);
      expect(await run('check', { source: { ...source, tag: 'missing' } })).toEqual([]);
      await pushImage(plain, 'app', ['current'], app1);
    });

    it('without tag: semver tags oldest first, each digest once under its most specific tag', async () => {
      const v = await Promise.all(
        ['1.0.0', '1.1.0', '2.0.0-rc.1', '1.2.0-alpine', 'latest-only'].map((m) => image([{ v: m }])),
      );
      const [v100, v110, rc, alpine, latestOnly] = v as [
        BuiltImage,
        BuiltImage,
        BuiltImage,
        BuiltImage,
        BuiltImage,
      ];
      await pushImage(plain, 'semver', ['1.0.0', 'v1.0'], v100);
      await pushImage(plain, 'semver', ['1.1', '1.1.0'], v110);
      await pushImage(plain, 'semver', ['2.0.0-rc.1'], rc);
      await pushImage(plain, 'semver', ['1.2.0-alpine', 'alpine'], alpine);
      await pushImage(plain, 'semver', ['not-a-version'], latestOnly);
      const repository = `${plain.host}/semver`;

      expect(await run('check', { source: { repository } })).toEqual([
        { tag: '1.0.0', digest: v100.digest },
        { tag: '1.1.0', digest: v110.digest },
      ]);
      // `latest` is reported last when it names no version.
      await pushImage(plain, 'semver', ['latest'], latestOnly);
      expect(await run('check', { source: { repository } })).toEqual([
        { tag: '1.0.0', digest: v100.digest },
        { tag: '1.1.0', digest: v110.digest },
        { tag: 'latest', digest: latestOnly.digest },
      ]);
      expect(await run('check', { source: { repository, pre_releases: true } })).toEqual([
        { tag: '1.0.0', digest: v100.digest },
        { tag: '1.1.0', digest: v110.digest },
        { tag: '2.0.0-rc.1', digest: rc.digest },
        { tag: 'latest', digest: latestOnly.digest },
      ]);
      expect(await run('check', { source: { repository, variant: 'alpine' } })).toEqual([
        { tag: '1.2.0-alpine', digest: alpine.digest },
      ]);
      expect(await run('check', { source: { repository, semver_constraint: '~1.0' } })).toEqual([
        { tag: '1.0.0', digest: v100.digest },
      ]);
      // From a known version, only newer ones (and it) come back.
      expect(
        await run('check', { source: { repository }, version: { tag: '1.1.0', digest: v110.digest } }),
      ).toEqual([
        { tag: '1.1.0', digest: v110.digest },
        { tag: 'latest', digest: latestOnly.digest },
      ]);
      // In the registry's own order, which distribution does not promise to sort.
      const byRegex = (await run('check', { source: { repository, tag_regex: '^1\\.1' } })) as {
        tag: string;
      }[];
      expect(byRegex.sort((a, b) => a.tag.localeCompare(b.tag))).toEqual([
        { tag: '1.1', digest: v110.digest },
        { tag: '1.1.0', digest: v110.digest },
      ]);
      expect(await failure('check', { source: { repository, semver_constraint: '>= nope' } })).toBe(
        'source.semver_constraint ">= nope" is not a semver constraint',
      );
    });

    it('refuses keys it does not implement by name, and unknown keys', async () => {
      expect(await failure('check', { source: { repository: 'x/y', aws_region: 'eu-west-1' } })).toBe(
        "source.aws_region is not supported by Outpost's built-in registry-image resource",
      );
      expect(await failure('check', { source: { repository: 'x/y', tga: 'latest' } })).toBe(
        'source: unknown key "tga"',
      );
      expect(await failure('check', { source: { repository: 'app:1.0' } })).toContain(
        'without a tag or digest',
      );
    });
  });

  describe('get', () => {
    it('rootfs (the default): layers unpacked in order with whiteouts, metadata.json, the version files', async () => {
      const layered = await image(
        [
          {
            'bin/tool': '#!/bin/sh\n',
            'etc/gone': 'x',
            'etc/keep': 'keep',
            'var/cache/a': 'a',
            'lib/real': 'r',
          },
          {
            'etc/.wh.gone': '',
            'var/cache/.wh..wh..opq': '',
            'var/cache/b': 'b',
            'lib/link': { symlink: 'real' },
          },
        ],
        { Env: ['PATH=/bin'], Cmd: ['/bin/tool'], User: 'nobody', Labels: { team: 'ci', 'org.x': 'y' } },
      );
      await pushImage(plain, 'layered', ['v1'], layered);
      const dest = await mkdtemp(path.join(root, 'get-'));
      const response = await run(
        'get',
        {
          source: { repository: `${plain.host}/layered`, label_regex: '^team$' },
          version: { tag: 'v1', digest: layered.digest },
        },
        dest,
      );
      expect(response).toEqual({
        version: { tag: 'v1', digest: layered.digest },
        metadata: [
          { name: 'repository', value: `${plain.host}/layered` },
          { name: 'tag', value: 'v1' },
          { name: 'team', value: 'ci' },
        ],
      });
      const rootfs = path.join(dest, 'rootfs');
      expect(await readFile(path.join(rootfs, 'bin/tool'), 'utf8')).toBe('#!/bin/sh\n');
      expect(await readFile(path.join(rootfs, 'etc/keep'), 'utf8')).toBe('keep');
      await expect(stat(path.join(rootfs, 'etc/gone'))).rejects.toThrow(/ENOENT/);
      expect((await readdir(path.join(rootfs, 'var/cache'))).sort()).toEqual(['b']);
      expect(await readlink(path.join(rootfs, 'lib/link'))).toBe('real');
      expect(JSON.parse(await readFile(path.join(dest, 'metadata.json'), 'utf8'))).toEqual({
        cmd: ['/bin/tool'],
        entrypoint: null,
        env: ['PATH=/bin'],
        user: 'nobody',
      });
      expect(JSON.parse(await readFile(path.join(dest, 'labels.json'), 'utf8'))).toEqual({
        team: 'ci',
        'org.x': 'y',
      });
      // Exactly as registry-image-resource writes them: no trailing newline.
      expect(await readFile(path.join(dest, 'repository'), 'utf8')).toBe(`${plain.host}/layered`);
      expect(await readFile(path.join(dest, 'tag'), 'utf8')).toBe('v1');
      expect(await readFile(path.join(dest, 'digest'), 'utf8')).toBe(layered.digest);
    });

    it('oci: image.tar as docker save writes it; oci-layout: the layout with single-image-digest', async () => {
      const version = { tag: 'current', digest: app1.digest };
      const source = { repository: `${plain.host}/app` };
      const oci = await mkdtemp(path.join(root, 'oci-'));
      await run('get', { source, version, params: { format: 'oci' } }, oci);
      expect((await readdir(oci)).sort()).toEqual([
        'digest',
        'image.tar',
        'labels.json',
        'repository',
        'tag',
      ]);
      const listing = execFileSync('tar', ['-tf', path.join(oci, 'image.tar')], { encoding: 'utf8' });
      expect(listing).toContain('manifest.json');
      const manifest = JSON.parse(
        execFileSync('tar', ['-xOf', path.join(oci, 'image.tar'), 'manifest.json'], { encoding: 'utf8' }),
      ) as { RepoTags: string[]; Layers: string[] }[];
      expect(manifest[0]?.RepoTags).toEqual([`${plain.host}/app:current`]);
      expect(manifest[0]?.Layers).toHaveLength(1);

      const layout = await mkdtemp(path.join(root, 'layout-'));
      await run('get', { source, version, params: { format: 'oci-layout' } }, layout);
      const dir = path.join(layout, 'oci');
      expect(await readFile(path.join(dir, 'single-image-digest'), 'utf8')).toBe(app1.digest);
      const index = JSON.parse(await readFile(path.join(dir, 'index.json'), 'utf8')) as {
        manifests: { digest: string }[];
      };
      expect(index.manifests.map((m) => m.digest)).toEqual([app1.digest]);
      const blobs = (await readdir(path.join(dir, 'blobs', 'sha256'))).map((h) => `sha256:${h}`).sort();
      expect(blobs).toEqual([app1.digest, ...app1.blobs.keys()].sort());
      for (const hex of await readdir(path.join(dir, 'blobs', 'sha256')))
        expect(digestOf(await readFile(path.join(dir, 'blobs', 'sha256', hex)))).toBe(`sha256:${hex}`);
    });

    it('an index: rootfs takes the platform asked for; oci-layout keeps the whole index', async () => {
      const amd = await buildImage(
        path.join(root, 'build'),
        [{ arch: 'amd64' }],
        {},
        { os: 'linux', architecture: 'amd64' },
      );
      const arm = await buildImage(
        path.join(root, 'build'),
        [{ arch: 'arm64' }],
        {},
        { os: 'linux', architecture: 'arm64' },
      );
      const index = buildIndex([
        { image: amd, os: 'linux', architecture: 'amd64' },
        { image: arm, os: 'linux', architecture: 'arm64' },
      ]);
      await pushImage(plain, 'multi', ['1.0.0'], index, [amd, arm]);
      const source = { repository: `${plain.host}/multi` };
      expect(await run('check', { source })).toEqual([{ tag: '1.0.0', digest: index.digest }]);
      const version = { tag: '1.0.0', digest: index.digest };
      const dest = await mkdtemp(path.join(root, 'arm-'));
      await run('get', { source, version, params: { platform: { architecture: 'arm64' } } }, dest);
      expect(await readFile(path.join(dest, 'rootfs', 'arch'), 'utf8')).toBe('arm64');
      expect(
        await failure('get', { source, version, params: { platform: { architecture: 's390x' } } }),
      ).toMatch(/has no image for linux\/s390x \(it has linux\/amd64, linux\/arm64\)/);
      const layout = await mkdtemp(path.join(root, 'multi-layout-'));
      await run('get', { source, version, params: { format: 'oci-layout' } }, layout);
      expect(await readFile(path.join(layout, 'oci', 'index.json'))).toEqual(index.manifest);
      await expect(stat(path.join(layout, 'oci', 'single-image-digest'))).rejects.toThrow(/ENOENT/);
    });

    it('skip_download writes only the version files', async () => {
      const dest = await mkdtemp(path.join(root, 'skip-'));
      await run(
        'get',
        {
          source: { repository: `${plain.host}/app` },
          version: { tag: 'current', digest: app1.digest },
          params: { skip_download: true },
        },
        dest,
      );
      expect((await readdir(dest)).sort()).toEqual(['digest', 'repository', 'tag']);
    });

    it('refuses a blob whose content does not match its digest', async () => {
      const victim = await image([{ 'etc/data': 'genuine content' }]);
      await pushImage(plain, 'tampered', ['v1'], victim);
      const layer = [...victim.blobs.keys()].find((d) => victim.blobs.get(d)?.[0] === 0x1f) ?? '';
      const hex = layer.slice('sha256:'.length);
      // The registry serves what is on its disk: change the layer there.
      const data = path.join(
        root,
        'plain',
        'data',
        'docker',
        'registry',
        'v2',
        'blobs',
        'sha256',
        hex.slice(0, 2),
        hex,
        'data',
      );
      const original = await readFile(data);
      const forged = Buffer.from(original);
      forged[forged.length - 5] = (forged[forged.length - 5] ?? 0) ^ 0xff;
      await writeFile(data, forged);
      const dest = await mkdtemp(path.join(root, 'tampered-'));
      const message = await failure(
        'get',
        { source: { repository: `${plain.host}/tampered` }, version: { tag: 'v1', digest: victim.digest } },
        dest,
      );
      expect(message).toMatch(new RegExp(`blob ${layer} of .* does not match its digest`));
      await expect(stat(path.join(dest, 'rootfs', 'etc', 'data'))).rejects.toThrow(/ENOENT/);
    });
  });

  describe('put', () => {
    it('pushes an image tarball under source.tag, the version (+variant) and additional tags', async () => {
      // The image tarball a get with format: oci wrote (what oci-build-task writes too).
      const work = await mkdtemp(path.join(root, 'put-'));
      await mkdir(path.join(work, 'built'));
      await getApp1(path.join(work, 'built'), 'oci');
      await writeFile(path.join(work, 'tags'), 'extra-1\n  extra-2 ');
      const response = (await run(
        'put',
        {
          source: { repository: `${plain.host}/pushed`, tag: 'edge', variant: 'slim' },
          params: { image: 'built/*.tar', version: 'v2.1.0', additional_tags: 'tags', tag_prefix: 'p-' },
        },
        work,
      )) as { version: { tag: string; digest: string }; metadata: unknown };
      expect(response.version.tag).toBe('edge');
      expect(response.metadata).toEqual([
        { name: 'repository', value: `${plain.host}/pushed` },
        { name: 'tags', value: 'edge 2.1.0-slim p-extra-1 p-extra-2' },
      ]);
      const source = { repository: `${plain.host}/pushed`, tag_regex: '.' };
      const versions = (await run('check', { source })) as { tag: string; digest: string }[];
      expect(versions.map((v) => v.tag).sort()).toEqual(['2.1.0-slim', 'edge', 'p-extra-1', 'p-extra-2']);
      expect(new Set(versions.map((v) => v.digest))).toEqual(new Set([response.version.digest]));
      // What was pushed unpacks to the same files.
      const back = await mkdtemp(path.join(root, 'back-'));
      await run('get', { source: { repository: `${plain.host}/pushed` }, version: response.version }, back);
      expect(await readFile(path.join(back, 'rootfs', 'etc', 'motd'), 'utf8')).toBe('one\n');
    });

    it('pushes an OCI layout unchanged (same digest), and bumps aliases', async () => {
      const work = await mkdtemp(path.join(root, 'mirror-'));
      await getApp1(work, 'oci-layout');
      await pushImage(plain, 'mirror', ['1.3.0'], app2);
      const response = (await run(
        'put',
        {
          source: { repository: `${plain.host}/mirror` },
          params: { image: 'oci', version: '1.2.5', bump_aliases: true },
        },
        work,
      )) as { version: { digest: string }; metadata: { value: string }[] };
      expect(response.version.digest).toBe(app1.digest);
      // 1.3.0 is newer: neither latest nor 1 move; 1.2 does.
      expect(response.metadata[1]?.value).toBe('1.2.5 1.2');
    });

    it('fails clearly on a missing image, several matches, no tag, or a corrupt blob', async () => {
      const work = await mkdtemp(path.join(root, 'bad-put-'));
      const source = { repository: `${plain.host}/bad` };
      expect(await failure('put', { source, params: { image: 'nope/*.tar', version: '1.0.0' } }, work)).toBe(
        "no files match glob 'nope/*.tar'",
      );
      await writeFile(path.join(work, 'a.tar'), '');
      await writeFile(path.join(work, 'b.tar'), '');
      expect(await failure('put', { source, params: { image: '*.tar', version: '1.0.0' } }, work)).toBe(
        "too many files/directories match glob '*.tar': a.tar, b.tar",
      );
      expect(await failure('put', { source, params: { image: 'a.tar' } }, work)).toBe(
        "no tag specified - need either 'version:' in params or 'tag:' in source",
      );
      await getApp1(work, 'oci-layout');
      const config = JSON.parse(app1.manifest.toString()) as { config: { digest: string } };
      await writeFile(
        path.join(work, 'oci', 'blobs', 'sha256', config.config.digest.slice(7)),
        '{"forged":true}',
      );
      expect(await failure('put', { source, params: { image: 'oci', version: '1.0.0' } }, work)).toMatch(
        /oci: blob sha256:[0-9a-f]{64} does not match its digest/,
      );
      expect(await run('check', { source: { ...source, tag: '1.0.0' } })).toEqual([]);
    });
  });

  describe('transient registry failures', () => {
    it('a reset connection, a 503 and a 429 with Retry-After are retried, and the step says so', async () => {
      const front = await startFlakyFront(plain.host, '/v2/app/', [
        'reset',
        { status: 503 },
        { status: 429, retryAfter: '1' },
      ]);
      try {
        const source = { repository: `${front.host}/app`, tag: 'current' };
        const lines: string[] = [];
        const started = Date.now();
        expect(await run('check', { source }, undefined, lines)).toEqual([
          { tag: 'current', digest: app1.digest },
        ]);
        expect(front.seen.filter((s) => s.startsWith('HEAD /v2/app/'))).toEqual([
          'HEAD /v2/app/manifests/current -> reset',
          'HEAD /v2/app/manifests/current -> 503',
          'HEAD /v2/app/manifests/current -> 429',
          'HEAD /v2/app/manifests/current -> pass',
        ]);
        // Retry-After: 1 was honoured.
        expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
        expect(lines).toEqual([
          expect.stringMatching(
            /^registry .*\/app: HEAD \/v2\/app\/manifests\/current: UND_ERR_SOCKET; retrying in \d\.\ds \(attempt 2 of 4\)$/,
          ),
          expect.stringMatching(/HTTP 503; retrying in \d\.\ds \(attempt 3 of 4\)$/),
          expect.stringMatching(/HTTP 429; retrying in 1\.0s \(attempt 4 of 4\)$/),
        ]);
      } finally {
        await front.close();
      }
    });

    it(`a registry that keeps failing fails the step after ${MAX_ATTEMPTS} attempts, naming the status`, async () => {
      const front = await startFlakyFront(plain.host, '/v2/app/', [{ status: 502 }], true);
      try {
        const message = await failure('check', {
          source: { repository: `${front.host}/app`, tag: 'current' },
        });
        expect(message).toBe(`head manifest current of ${front.host}/app: HTTP 502`);
        expect(front.seen.filter((s) => s.startsWith('HEAD /v2/app/'))).toHaveLength(MAX_ATTEMPTS);
      } finally {
        await front.close();
      }
    });
  });

  describe('auth and TLS', () => {
    const registries: TestRegistry[] = [];
    afterAll(async () => {
      for (const r of registries) await r.close();
    });

    it.each(['htpasswd', 'token'] as const)(
      '%s auth: credentials are required, checked, and work for check, get and put',
      async (auth) => {
        const registry = await startRegistry(path.join(root, `auth-${auth}`), {
          auth,
          user: 'ci',
          password: 'pw-1',
        });
        registries.push(registry);
        await pushImage(registry, 'private/app', ['1.0.0'], app1, [], { user: 'ci', password: 'pw-1' });
        const repository = `${registry.host}/private/app`;
        expect(await failure('check', { source: { repository } })).toMatch(
          auth === 'htpasswd'
            ? /requires authentication: set source.username and source.password/
            : /the token server http:\/\/127.0.0.1:\d+ refused anonymous access to/,
        );
        const refused = await failure('check', {
          source: { repository, username: 'ci', password: 'wrong-pw' },
        });
        expect(refused).toMatch(/refused the credentials|credentials were refused/);
        expect(refused).not.toContain('wrong-pw');
        const source = { repository, username: 'ci', password: 'pw-1' };
        expect(await run('check', { source })).toEqual([{ tag: '1.0.0', digest: app1.digest }]);
        const dest = await mkdtemp(path.join(root, `auth-get-${auth}-`));
        await run('get', { source, version: { tag: '1.0.0', digest: app1.digest } }, dest);
        expect(await readFile(path.join(dest, 'rootfs', 'etc', 'motd'), 'utf8')).toBe('one\n');
        const layout = await mkdtemp(path.join(root, `auth-put-${auth}-`));
        await run(
          'get',
          { source, version: { tag: '1.0.0', digest: app1.digest }, params: { format: 'oci-layout' } },
          layout,
        );
        await run('put', { source: { ...source, tag: 'copy' }, params: { image: 'oci' } }, layout);
        expect(await run('check', { source: { ...source, tag: 'copy' } })).toEqual([
          { tag: 'copy', digest: app1.digest },
        ]);
      },
    );

    it('TLS: a private CA through ca_certs, refused without it, accepted with insecure', async () => {
      const registry = await startRegistry(path.join(root, 'tls'), { tls: true });
      registries.push(registry);
      await pushImage(registry, 'app', ['v1'], app1);
      const repository = `${registry.host}/app`;
      expect(await run('check', { source: { repository, tag: 'v1', ca_certs: [registry.caCert] } })).toEqual([
        { tag: 'v1', digest: app1.digest },
      ]);
      expect(await failure('check', { source: { repository, tag: 'v1' } })).toMatch(
        /cannot reach the registry at https:\/\/127.0.0.1:\d+: .*(CERT|SELF_SIGNED)/,
      );
      expect(await run('check', { source: { repository, tag: 'v1', insecure: true } })).toEqual([
        { tag: 'v1', digest: app1.digest },
      ]);
    });
  });
});
