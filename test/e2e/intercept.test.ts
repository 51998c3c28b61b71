// `outpost intercept` (alias hijack) as a user runs it: a real CLI process into a step of a real agent,
// through the hub (the agent dials out; the hub relays over a Tunnel): a running step and a recently
// failed one on a process pool, and a running step's pod on a Kubernetes pool of the fake cluster
// (test/support/fake-k8s), an exec with a pseudo-terminal.

import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Watch, type V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DOCUMENTED_RBAC } from '../../agent/executors/kubernetes/rbac.js';
import { ptyOf } from '../../agent/intercept/local-terminal.js';
import { spawnCli } from '../support/cli-process.js';
import { eventually } from '../support/eventually.js';
import { startCliFixture, type CliFixture } from '../support/cli-fixture.js';
import { startFakeKube, type FakeKube } from '../support/fake-k8s/index.js';
import { finalStatus, readBuildEvents, triggerJob, waitForEvents } from '../support/harness.js';

const NS = 'ci';

let fixture: CliFixture;
let hub: CliFixture['hub'];
let agent: CliFixture['agent'];
let cli: CliFixture['cli'];
let fake: FakeKube;
let dir: string;
let buildId: number;
let kubeBuildId: number;

const task = (name: string, script: string, tags = '') => `- name: ${name}
  plan:
  - task: run${tags ? `\n    tags: [${tags}]` : ''}
    config:
      platform: linux
      params: { MARKER: from-the-step }
      run: { path: sh, args: ['-c', '${script}'] }
`;

const PIPELINE = `jobs:
${task('job', 'echo started; exec sleep 600')}${task('fails', 'echo failing; exit 1')}${task('fails-unkept', 'exit 1', 'unkept')}${task('kube', 'echo started; exec sleep 600', 'kube')}${task('kube-fails', 'echo left behind > note.txt; exit 1', 'kube')}${task('kube-short-fails', 'exit 1', 'kube-short')}`;

/** The step container's end and when the agent asked for the pod's deletion, of each pod of a pool. */
interface PodEnd {
  name: string;
  stepFinishedAt?: number;
  deleteRequestedAt?: number;
  deleted: boolean;
}

/** Watches the pods of `pool` from now on (before the step exists, so no transition is missed). */
async function watchPoolPods(pool: string): Promise<{ ends: Map<string, PodEnd>; stop: () => void }> {
  const ends = new Map<string, PodEnd>();
  const controller = await new Watch(fake.kubeConfig()).watch(
    `/api/v1/namespaces/${NS}/pods`,
    { labelSelector: `outpost.dev/pool=${pool}` },
    (type, pod: V1Pod) => {
      const name = pod.metadata?.name ?? '';
      const end = ends.get(name) ?? { name, deleted: false };
      const finished = pod.status?.containerStatuses?.find((c) => c.name === 'step')?.state?.terminated;
      if (finished?.finishedAt) end.stepFinishedAt = new Date(finished.finishedAt).getTime();
      const deletion = pod.metadata?.deletionTimestamp;
      // deletionTimestamp is when the grace period ends: the request was that much earlier.
      if (deletion && end.deleteRequestedAt === undefined)
        end.deleteRequestedAt =
          new Date(deletion).getTime() - (pod.metadata?.deletionGracePeriodSeconds ?? 0) * 1000;
      if (type === 'DELETED') end.deleted = true;
      ends.set(name, end);
    },
    () => undefined,
  );
  return { ends, stop: () => controller.abort() };
}

/** The pseudo-terminal the test's own `script` (pid) gives the CLI, found as the agent finds its own. */
function cliTerminal(scriptPid: number): Promise<string> {
  return eventually('the CLI to run on a terminal', () => ptyOf(scriptPid));
}

async function outpost(args: string[], tty = false) {
  const p = spawnCli(args, { cwd: cli.dir, env: cli.env as Record<string, string>, tty });
  const code = await p.exited;
  return { code, stdout: p.stdout(), stderr: p.stderr() };
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'outpost-intercept-'));
  fake = await startFakeKube({
    namespaces: [NS],
    nodes: [{ name: 'linux-1' }],
    rbac: DOCUMENTED_RBAC.map((r) => ({
      verbs: [...r.verbs],
      resources: [...r.resources],
      namespaces: [NS],
    })),
  });
  const kubeconfig = path.join(dir, 'kubeconfig');
  await writeFile(kubeconfig, fake.kubeconfigYaml());
  // A process pool keeping failed steps (its default), one that keeps none, and a Kubernetes pool.
  fixture = await startCliFixture({
    pools: `  - name: local
    platform: linux
    capacity: 4
  - name: unkept
    platform: linux
    tags: [unkept]
    keep_failed_steps_for: "0"
  - name: kube
    platform: linux
    executor: kubernetes
    tags: [kube]
    kubernetes:
      namespace: ${NS}
      kubeconfig: ${kubeconfig}
      resources: { defaults: { cpu: 100m, memory: 64Mi } }
  - name: kube-short
    platform: linux
    executor: kubernetes
    tags: [kube-short]
    keep_failed_steps_for: 3s
    kubernetes:
      namespace: ${NS}
      kubeconfig: ${kubeconfig}
      resources: { defaults: { cpu: 100m, memory: 64Mi } }
`,
  });
  ({ hub, agent, cli } = fixture);
  expect(fixture.login.code).toBe(0);
  expect((await hub.api('PUT', '/teams/main/pipelines/p/config', { source: PIPELINE })).status).toBe(200);
  await hub.api('PUT', '/teams/main/pipelines/p/unpause');
  buildId = await triggerJob(hub, 'p', 'job');
  kubeBuildId = await triggerJob(hub, 'p', 'kube');
  await waitForEvents(hub, buildId, 'started\\n');
  await waitForEvents(hub, kubeBuildId, 'started\\n');
}, 90_000);

afterAll(async () => {
  await hub.api('PUT', `/builds/${buildId}/abort`);
  await hub.api('PUT', `/builds/${kubeBuildId}/abort`);
  await fixture.close();
  await fake.close();
  await rm(dir, { recursive: true, force: true });
});

describe('outpost intercept into a process step', () => {
  it("runs a command in the step's directory and environment and exits with its status", async () => {
    const result = await outpost([
      'intercept',
      '-j',
      'p/job',
      '--',
      'sh',
      '-c',
      'echo $PWD; echo $MARKER; exit 3',
    ]);
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(new RegExp(`^${agent.dir}/work/\\S+\\nfrom-the-step\\n$`));
    expect(result.code).toBe(3);
  });

  it('passes stdin through (hijack is its alias, -b the build id)', async () => {
    const p = spawnCli(
      ['hijack', '-b', String(buildId), '-s', 'run', '--', 'sh', '-c', 'read line; echo got $line'],
      {
        cwd: cli.dir,
        env: cli.env as Record<string, string>,
        stdin: 'hello\n',
      },
    );
    expect(await p.exited).toBe(0);
    expect(p.stdout()).toBe('got hello\n');
  });

  it('runs under a pseudo-terminal when stdin is a terminal', async () => {
    const result = await outpost(
      ['intercept', '-b', String(buildId), '--', 'sh', '-c', 'echo $PWD; tty; exit 3'],
      true,
    );
    // Two terminals (the agent's and the test's own `script`) each turn "\n" into "\r\n"; the remote
    // terminal may also echo a NUL that the test's own `script` writes as the command starts (`^@`).
    expect(result.stdout).toMatch(new RegExp(`${agent.dir}/work/\\S+\\r*\\n(?:\\^@)*/dev/pts/\\d+`));
    expect(result.code).toBe(3);
  });

  it("applies a resize of the user's terminal to the command's pseudo-terminal", async () => {
    // Prints its size, waits (bounded) for it to change, prints it again.
    const script =
      's0=$(stty size); echo "size $s0"; i=0; ' +
      'while [ "$(stty size)" = "$s0" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; ' +
      'echo "size $(stty size)"; exit 4';
    const p = spawnCli(['intercept', '-b', String(buildId), '--', 'sh', '-c', script], {
      cwd: cli.dir,
      env: cli.env as Record<string, string>,
      tty: true,
    });
    await p.waitFor('size ');
    // The user resizes their window: the CLI's terminal gets a new size (and the CLI a SIGWINCH).
    const terminal = await cliTerminal(p.child.pid!);
    execFileSync('stty', ['-F', terminal, 'rows', '41', 'cols', '101']);
    expect(await p.exited, p.stdout()).toBe(4);
    expect(p.stdout()).toMatch(/size \d+ \d+\r*\n(?:.|\n)*size 41 101\r*\n/);
  });

  it("a failed step's directory and environment stay for the pool's keep_failed_steps_for", async () => {
    const failed = await triggerJob(hub, 'p', 'fails');
    expect(finalStatus(await readBuildEvents(hub, failed))).toBe('failed');
    const result = await outpost(
      [
        'intercept',
        '-j',
        'p/fails',
        '--step-type',
        'task',
        '--',
        'sh',
        '-c',
        'echo $PWD; echo $MARKER; exit 3',
      ],
      true,
    );
    expect(result.stdout).toMatch(new RegExp(`${agent.dir}/work/\\S+\\r*\\n(?:\\^@)*from-the-step`));
    expect(result.code).toBe(3);

    // A pool with keep_failed_steps_for: 0 removed it at once: the agent says why.
    const unkept = await triggerJob(hub, 'p', 'fails-unkept');
    expect(finalStatus(await readBuildEvents(hub, unkept))).toBe('failed');
    const gone = await outpost(['intercept', '-j', 'p/fails-unkept', '--', 'true']);
    expect(gone.stderr).toBe(
      "error: the step is not on this agent any more: it has not started, or it ended (a failed build's steps are kept for their pool's keep_failed_steps_for)\n",
    );
    expect(gone.code).toBe(1);
  });

  it('says which steps there are when the one asked for is not one', async () => {
    const result = await outpost(['intercept', '-b', String(buildId), '-s', 'nope', '--', 'true']);
    expect(result.stderr).toBe(
      `error: a running or failed step matching that in build ${buildId} (there are: run (task, running)) not found\n`,
    );
    expect(result.code).toBe(1);
    const finished = await outpost(['intercept', '-b', '999', '--', 'true']);
    expect(finished.stderr).toBe('error: build 999 not found\n');
  });
});

describe("outpost intercept into a step's pod on a kubernetes pool", () => {
  it("execs under a pseudo-terminal in the step's container and exits with its status", async () => {
    const result = await outpost(
      ['intercept', '-j', 'p/kube', '--', 'sh', '-c', 'echo $PWD; echo $MARKER; tty; exit 3'],
      true,
    );
    // The pod's working directory (/workspace, the pool's default), the step's env, a terminal.
    expect(result.stdout).toMatch(/\/workspace\r*\n(?:\^@)*from-the-step\r*\n(?:\^@)*\/dev\/pts\/\d+/);
    expect(result.code).toBe(3);
  });

  it('without a terminal: plain stdout, stderr and stdin', async () => {
    const p = spawnCli(
      [
        'intercept',
        '-b',
        String(kubeBuildId),
        '--',
        'sh',
        '-c',
        'read line; echo got $line; echo oops >&2; exit 4',
      ],
      { cwd: cli.dir, env: cli.env as Record<string, string>, stdin: 'hello\n' },
    );
    expect(await p.exited).toBe(4);
    expect(p.stdout()).toBe('got hello\n');
    expect(p.stderr()).toBe('oops\n');
  });

  it("a failed step's pod is kept, and intercept enters its helper in the step's directory and env", async () => {
    const failed = await triggerJob(hub, 'p', 'kube-fails');
    expect(finalStatus(await readBuildEvents(hub, failed))).toBe('failed');
    const result = await outpost([
      'intercept',
      '-j',
      'p/kube-fails',
      '--',
      'sh',
      '-c',
      'echo $PWD; echo $MARKER; cat note.txt; exit 3',
    ]);
    // The step's workspace as it left it, its working directory and environment.
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('/workspace\nfrom-the-step\nleft behind\n');
    expect(result.code).toBe(3);
  });

  it("a failed step's pod is deleted once the pool's keep_failed_steps_for is over", async () => {
    const watch = await watchPoolPods('kube-short');
    try {
      const failed = await triggerJob(hub, 'p', 'kube-short-fails');
      expect(finalStatus(await readBuildEvents(hub, failed))).toBe('failed');
      const end = await eventually('the failed step pod of pool kube-short to be deleted', async () =>
        Promise.resolve([...watch.ends.values()].find((e) => e.deleted)),
      );
      expect(end.stepFinishedAt).toBeDefined();
      expect(end.deleteRequestedAt).toBeDefined();
      // Kept 3 s after the step's container ended (both times are whole seconds: 2 s at least).
      const keptMs = (end.deleteRequestedAt ?? 0) - (end.stepFinishedAt ?? 0);
      console.log(`kube-short: the failed step's pod was kept ${keptMs} ms, then deleted`);
      expect(keptMs).toBeGreaterThanOrEqual(2000);
    } finally {
      watch.stop();
    }
  });
});
