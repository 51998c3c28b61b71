// What users install, run: the project packed (`npm pack`), the tarball installed with
// `npm install --omit=dev` into an empty directory (the same steps as images/*.Dockerfile), then a hub,
// an agent and the CLI from that directory only, as real processes. One build crosses a kubernetes pool
// (the fake API server) and a process pool. A runtime import left in devDependencies fails here.
// Then docs/host-install.md's production setup from the same install: the hub on PostgreSQL (upgraded
// from the previous release's schema) with TLS on its gateway, a local user in a team, an agent of its
// own token trusting the hub's certificate, and a build through the CLI.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { access, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Kysely } from 'kysely';
import { create as createTar } from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrations } from '../../hub/store/migrations/index.js';
import { openPostgresDatabase } from '../../hub/store/postgres.js';
import { spawnAgentProcess } from '../support/agent-process.js';
import { adminTokenOf, callApi, spawnChildHub, type ChildHubProcess } from '../support/child-hub.js';
import { startFakeKube, type FakeKube } from '../support/fake-k8s/index.js';
import { migrateBefore } from '../support/old-database.js';
import { selfSignedCert } from '../support/self-signed.js';
import { postgresSkip, testPostgresOnce } from '../support/store-backends.js';

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const NS = 'ci';
const INSTALL_TIMEOUT_MS = 10 * 60_000;

let dir: string;
let app: string;
let fake: FakeKube;
let hub: ChildHubProcess;
// What afterAll undoes, newest first: beforeAll may stop halfway.
const undo: (() => Promise<unknown>)[] = [];
const timings: Record<string, number> = {};

async function timed<T>(what: string, fn: () => Promise<T>): Promise<T> {
  const started = Date.now();
  try {
    return await fn();
  } finally {
    timings[what] = Date.now() - started;
  }
}

// The install command of images/*.Dockerfile, word for word (checked below).
const INSTALL = ['install', '--omit=dev', '--no-audit', '--no-fund'];

const npm = (args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env) =>
  run('npm', args, { cwd, env, maxBuffer: 64 * 1024 * 1024 });

/**
 * better-sqlite3's install (prebuild-install) downloads a prebuilt binary from GitHub, and compiles
 * from source when it cannot: 5-10 minutes on a loaded 2-core machine without a route to GitHub (this
 * project's). The repository's own node_modules holds that binary for this Node ABI, so it is offered
 * the way prebuild-install takes a local prebuild: a tarball named like the download. Without one,
 * the install compiles.
 */
async function localPrebuilds(into: string): Promise<NodeJS.ProcessEnv> {
  const pkg = JSON.parse(
    await readFile(path.join(ROOT, 'node_modules/better-sqlite3/package.json'), 'utf8'),
  ) as {
    version: string;
  };
  const binary = 'build/Release/better_sqlite3.node';
  try {
    await access(path.join(ROOT, 'node_modules/better-sqlite3', binary));
  } catch {
    return process.env;
  }
  await mkdir(into, { recursive: true });
  const name = `better-sqlite3-v${pkg.version}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`;
  await createTar(
    { gzip: true, cwd: path.join(ROOT, 'node_modules/better-sqlite3'), file: path.join(into, name) },
    [binary],
  );
  return { ...process.env, npm_config_better_sqlite3_local_prebuilds: into };
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'outpost-packed-'));
  undo.push(() => rm(dir, { recursive: true, force: true }));
  app = path.join(dir, 'app');
  await mkdir(app);
  await timed('build', () => npm(['run', 'build'], ROOT));
  await timed('pack', () => npm(['pack', '--pack-destination', dir], ROOT));
  const tarball = (await readdir(dir)).find((f) => f.endsWith('.tgz'));
  if (!tarball) throw new Error(`npm pack wrote no tarball in ${dir}`);
  await writeFile(path.join(app, 'package.json'), '{ "private": true }\n');
  const env = await localPrebuilds(path.join(dir, 'prebuilds'));
  await timed('install', () => npm([...INSTALL, '--prefer-offline', path.join(dir, tarball)], app, env));
  console.log(`packed install: ${JSON.stringify(timings)} ms`);

  fake = await startFakeKube({ namespaces: [NS], nodes: [{ name: 'linux-1' }] });
  undo.push(() => fake.close());
  const kubeconfig = path.join(dir, 'kubeconfig');
  await writeFile(kubeconfig, fake.kubeconfigYaml());
  const data = path.join(dir, 'hub');
  await mkdir(data);
  hub = await spawnChildHub(data, { entry: path.join(app, 'node_modules/outpost/dist/hub/main.js') });
  stopOnExit(hub);
  const admin = await adminTokenOf(data);
  const token = await callApi<{ token: string }>(hub.url, admin, 'POST', '/agent-tokens', { name: 'packed' });
  const agent = await spawnAgentProcess(hub, {
    dir: path.join(dir, 'agent'),
    token: token.body.token,
    name: 'packed-agent',
    entry: path.join(app, 'node_modules/outpost/dist/agent/main.js'),
    pools: `  - name: cluster
    platform: linux
    executor: kubernetes
    capacity: 2
    kubernetes:
      namespace: ${NS}
      kubeconfig: ${kubeconfig}
  - name: host
    platform: linux
    capacity: 2
    tags: [host]
`,
  });
  stopOnExit(agent);
  await agent.logged('connected to the hub');
}, INSTALL_TIMEOUT_MS);

afterAll(async () => {
  for (const step of undo.reverse()) await step();
});

function stopOnExit(child: { child: ChildProcess; exited: Promise<unknown> }): void {
  undo.push(() => {
    child.child.kill('SIGTERM');
    return child.exited;
  });
}

describe('the packed, production install', () => {
  it(
    'holds every runtime dependency: a build runs on a kubernetes pool and a process pool',
    { timeout: 120_000 },
    async () => {
      const cli = path.join(app, 'node_modules/.bin/outpost');
      const env = { ...process.env, OUTPOST_CONFIG: path.join(dir, 'cli.yaml') };
      const outpost = (args: string[]) => run(cli, args, { cwd: dir, env });
      await outpost(['login', '--url', hub.url, '--token', await adminTokenOf(path.join(dir, 'hub'))]);
      const pipeline = path.join(dir, 'pipeline.yml');
      await writeFile(
        pipeline,
        `jobs:
- name: job
  plan:
  - task: in-cluster
    config:
      platform: linux
      outputs: [{ name: out }]
      run: { path: sh, args: ['-c', 'echo made-in-a-pod > out/file; echo pod step'] }
  - task: on-host
    tags: [host]
    config:
      platform: linux
      inputs: [{ name: out }]
      run: { path: sh, args: ['-c', 'cat out/file; echo host step'] }
`,
      );
      await outpost(['set-pipeline', '-p', 'packed', '-c', pipeline, '-n']);
      await outpost(['unpause-pipeline', '-p', 'packed']);
      const { stdout } = await outpost(['trigger-job', '-j', 'packed/job', '-w']);
      expect(stdout).toContain('pod step\n');
      expect(stdout).toContain('made-in-a-pod\nhost step\n');
      expect(stdout).toMatch(/succeeded/);
      // The pod really ran in the (fake) cluster.
      expect(fake.permissionsUsed().some((p) => p.verb === 'create' && p.resource === 'pods')).toBe(true);
    },
  );

  it('serves the web UI from the installed package: the page and the script it loads', async () => {
    const page = await fetch(`${hub.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await page.text();
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(script, html).toBeDefined();
    const js = await fetch(`${hub.url}${script}`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toMatch(/javascript/);
  });

  it('is what the images install', async () => {
    for (const image of ['hub', 'agent']) {
      const dockerfile = await readFile(path.join(ROOT, 'images', `${image}.Dockerfile`), 'utf8');
      expect(dockerfile).toContain('npm pack --pack-destination /tmp');
      expect(dockerfile).toContain(`npm ${INSTALL.join(' ')} /tmp/outpost-*.tgz`);
      expect(dockerfile).toContain(`"node_modules/outpost/dist/${image}/main.js"`);
    }
  });
});

/** Runs an installed command with `input` on its stdin; rejects with its output when it fails. */
function runWithInput(
  file: string,
  args: string[],
  opts: { cwd: string; env: NodeJS.ProcessEnv; input?: string },
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd: opts.cwd, env: opts.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdin.end(opts.input ?? '');
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0
        ? resolve({ stdout, stderr })
        : reject(new Error(`${path.basename(file)} ${args.join(' ')} exited ${code}:\n${stdout}${stderr}`)),
    );
  });
}

const pgUnavailable = postgresSkip('the packed install on PostgreSQL');

describe.skipIf(pgUnavailable !== undefined)('the packed install as docs/host-install.md sets it up', () => {
  const server = testPostgresOnce();

  it(
    "upgrades a PostgreSQL database, serves agents over TLS, and runs a team member's build",
    { timeout: 240_000 },
    async () => {
      const bin = (name: string) => path.join(app, 'node_modules/.bin', name);
      const home = path.join(dir, 'pg-home');
      await mkdir(home);
      // The password is one the test server (trust authentication) ignores: it must never show anywhere.
      const dbPassword = 'db-password-never-shown';
      const url = (await (await server()).createDatabase('outpost_packed')).replace(
        'postgresql://outpost@',
        `postgresql://outpost:${dbPassword}@`,
      );
      const env = { ...process.env, HOME: home, OUTPOST_DATABASE_URL: url };
      // The previous release's database: every migration but the newest applied.
      const newest = Object.keys(migrations).sort().at(-1)!;
      const old = openPostgresDatabase({ url });
      await migrateBefore(old as unknown as Kysely<unknown>, newest);
      await old.destroy();
      const dryRun = await runWithInput(bin('outpost-hub'), ['migrate', '--dry-run'], { cwd: dir, env });
      expect(dryRun.stdout).toContain(`1 migration(s) pending:\n  ${newest}\n`);
      expect(dryRun.stdout).not.toContain(dbPassword);
      // A database that is not there: one line naming it, the password hidden, no stack trace.
      const wrong = { ...env, OUTPOST_DATABASE_URL: url.replace('/outpost_packed?', '/no_such_db?') };
      const refused = await runWithInput(bin('outpost-hub'), ['migrate', '--dry-run'], {
        cwd: dir,
        env: wrong,
      }).then(
        () => 'exited 0',
        (err: unknown) => String(err),
      );
      expect(refused).toMatch(
        /outpost-hub: postgresql:\/\/outpost:\*\*\*@\/no_such_db\?.*: database "no_such_db" does not exist/,
      );
      expect(refused).not.toContain(dbPassword);
      expect(refused).not.toMatch(/\n\s+at /);

      // The hub: its gateway on TLS with a certificate for the address agents dial.
      const certs = path.join(dir, 'pg-certs');
      await mkdir(certs);
      const cert = await selfSignedCert(certs, 'hub');
      const data = path.join(dir, 'pg-hub');
      await mkdir(data);
      const pgHub = await spawnChildHub(data, {
        entry: path.join(app, 'node_modules/outpost/dist/hub/main.js'),
        tls: { certFile: cert.certFile, keyFile: cert.keyFile },
        env: { OUTPOST_DATABASE_URL: url },
      });
      try {
        expect(pgHub.logs.find((l) => l.msg === 'hub ready')).toMatchObject({ tls: true });
        const upToDate = await runWithInput(bin('outpost-hub'), ['migrate', '--dry-run'], { cwd: dir, env });
        expect(upToDate.stdout).toContain('up to date, no migration pending');
        // The first admin credential: in a file only the hub's user reads, never in its output.
        const tokenFile = path.join(data, 'admin-token');
        expect((await stat(tokenFile)).mode & 0o777).toBe(0o600);
        const admin = (await readFile(tokenFile, 'utf8')).trim();
        expect(pgHub.output()).not.toContain(admin);
        expect(pgHub.output()).not.toContain(dbPassword);

        const outpost = (args: string[], input?: string) =>
          runWithInput(bin('outpost'), args, { cwd: dir, env, input });
        await outpost(['-t', 'prod', 'login', '--url', pgHub.url, '--token', '-'], admin);
        await outpost(['-t', 'prod', 'set-user', '-u', 'alice'], 'correct horse battery staple\n');
        await outpost([
          'set-team',
          '-t',
          'prod',
          '-n',
          'alpha',
          '--local-user',
          'alice',
          '--non-interactive',
        ]);
        const login = await outpost(
          ['-t', 'alpha', 'login', '--url', pgHub.url, '-n', 'alpha', '-u', 'alice', '-p', '-'],
          'correct horse battery staple\n',
        );
        expect(login.stdout).toContain('as alice (team alpha, owner)');

        // The agent: a token of its own bound to its name and pool, the hub's certificate as its CA.
        const created = await outpost([
          ...['-t', 'prod', 'agent-tokens', 'create', '--name', 'build-1', '--agent', 'test/build-1'],
          ...['--pools', 'local', '--max-capacity', '2'],
        ]);
        const agentToken = /^token: (\S+)$/m.exec(created.stdout)?.[1];
        expect(agentToken, created.stdout).toBeDefined();
        const agent = await spawnAgentProcess(pgHub, {
          dir: path.join(dir, 'pg-agent'),
          token: agentToken!,
          name: 'build-1',
          address: `127.0.0.1:${pgHub.grpcPort}`,
          tls: `    ca_file: ${cert.certFile}`,
          entry: path.join(app, 'node_modules/outpost/dist/agent/main.js'),
        });
        try {
          await agent.logged('connected to the hub');
          const pipeline = path.join(dir, 'hello.yml');
          await writeFile(
            pipeline,
            `jobs:
  - name: hello
    plan:
      - task: say
        config:
          platform: linux
          run: { path: sh, args: ['-c', 'echo hello from the host'] }
`,
          );
          await outpost(['-t', 'alpha', 'set-pipeline', '-p', 'hello', '-c', pipeline, '-n']);
          await outpost(['-t', 'alpha', 'unpause-pipeline', '-p', 'hello']);
          const build = await outpost(['-t', 'alpha', 'trigger-job', '-j', 'hello/hello', '-w']);
          expect(build.stdout).toContain('selected worker: test/build-1 (pool local)\n');
          expect(build.stdout).toContain('hello from the host\nsucceeded\n');
          expect(agent.output()).not.toContain(agentToken);
        } finally {
          agent.child.kill('SIGTERM');
          await agent.exited;
        }
      } finally {
        pgHub.child.kill('SIGTERM');
        await pgHub.exited;
      }
    },
  );
});
