// client-node's models are classes, but its API accepts plain JSON objects (it serializes them).
/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment */
import { Exec, Log, Watch, type V1Pod, type V1Status } from '@kubernetes/client-node';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeKube, type FakeKube } from './index.js';
import {
  apiError,
  Collect,
  core,
  isPhase,
  liveProcessesInGroup,
  waitForEvent,
  waitForPod,
} from './test-helpers.js';

const NS = 'ci';
let fake: FakeKube;

beforeAll(async () => {
  fake = await startFakeKube({ namespaces: [NS] });
});
afterAll(async () => {
  await fake.close();
});

const pod = (name: string, spec: V1Pod['spec'], labels?: Record<string, string>): V1Pod => ({
  metadata: { name, ...(labels ? { labels } : {}) },
  spec: Object.assign({ restartPolicy: 'Never' }, spec),
});

// In chroot isolation containers see real mount paths; otherwise paths are under $FAKE_KUBE_ROOT.
const p = (mountPath: string): string =>
  fake.isolation === 'chroot' ? mountPath : `$FAKE_KUBE_ROOT${mountPath}`;

describe('fake kube: pods through @kubernetes/client-node', () => {
  it('runs an init container then the main container sharing an emptyDir; follows logs; reports the exit code', async () => {
    const kc = fake.kubeConfig();
    const api = core(kc);
    await api.createNamespacedPod({
      namespace: NS,
      body: pod(
        'step-1',
        {
          volumes: [{ name: 'work', emptyDir: {} }],
          initContainers: [
            {
              name: 'inputs',
              image: 'outpost/helper:1',
              command: ['sh', '-c', `echo from-init > ${p('/work')}/input.txt`],
              volumeMounts: [{ name: 'work', mountPath: '/work' }],
            },
          ],
          containers: [
            {
              name: 'step',
              image: 'alpine:3.20',
              workingDir: '/work',
              command: ['sh', '-c'],
              args: [`cat input.txt; echo "param=$PARAM"; echo oops >&2; sleep 0.3; echo done; exit 7`],
              env: [{ name: 'PARAM', value: 'x1' }],
              volumeMounts: [{ name: 'work', mountPath: '/work' }],
            },
          ],
        },
        { 'outpost.dev/step': 's1' },
      ),
    });
    await waitForPod(
      kc,
      NS,
      'step-1',
      (p) =>
        p.status?.containerStatuses?.[0]?.state?.running !== undefined || isPhase('Failed', 'Succeeded')(p),
    );
    const out = new Collect();
    await new Log(kc).log(NS, 'step-1', 'step', out, { follow: true, timestamps: true });
    const text = await out.ended;
    const lines = text.trimEnd().split('\n');
    expect(lines.map((l) => l.replace(/^\S+ /, ''))).toEqual(['from-init', 'param=x1', 'oops', 'done']);
    for (const l of lines) expect(l).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z /);

    const done = await waitForPod(kc, NS, 'step-1', isPhase('Succeeded', 'Failed'));
    expect(done.status?.phase).toBe('Failed');
    expect(done.status?.initContainerStatuses?.[0]?.state?.terminated).toMatchObject({
      exitCode: 0,
      reason: 'Completed',
    });
    expect(done.status?.containerStatuses?.[0]?.state?.terminated).toMatchObject({
      exitCode: 7,
      reason: 'Error',
    });

    // sinceTime counts whole seconds (the API server forwards it to the kubelet without its fraction):
    // every line from the start of that second on. tailLines and label selectors work as on a cluster.
    const since = lines[2]!.split(' ')[0]!;
    const second = since.slice(0, 19);
    const resumed = new Collect();
    await new Log(kc).log(NS, 'step-1', 'step', resumed, { sinceTime: since, timestamps: true });
    expect(await resumed.ended).toBe(lines.filter((l) => l.slice(0, 19) >= second).join('\n') + '\n');
    expect(
      await api.readNamespacedPodLog({ namespace: NS, name: 'step-1', container: 'step', tailLines: 1 }),
    ).toBe('done\n');
    const listed = await api.listNamespacedPod({ namespace: NS, labelSelector: 'outpost.dev/step=s1' });
    expect(listed.items.map((i) => i.metadata?.name)).toEqual(['step-1']);
    expect(Number(listed.metadata?.resourceVersion)).toBeGreaterThan(0);
  });

  it('succeeds with exit 0 and a Watch from the list resourceVersion sees every transition', async () => {
    const kc = fake.kubeConfig();
    const api = core(kc);
    const list = await api.listNamespacedPod({ namespace: NS, fieldSelector: 'metadata.name=ok-1' });
    const phases: string[] = [];
    const finished = new Promise<void>((resolve, reject) => {
      void new Watch(kc).watch(
        `/api/v1/namespaces/${NS}/pods`,
        { resourceVersion: list.metadata?.resourceVersion, fieldSelector: 'metadata.name=ok-1' },
        (type, obj: V1Pod) => {
          phases.push(`${type}:${obj.status?.phase ?? ''}`);
          if (obj.status?.phase === 'Succeeded') resolve();
        },
        (err: unknown) =>
          err ? reject(err instanceof Error ? err : new Error(JSON.stringify(err))) : undefined,
      );
    });
    await api.createNamespacedPod({
      namespace: NS,
      body: pod('ok-1', { containers: [{ name: 'main', image: 'alpine', command: ['true'] }] }),
    });
    await finished;
    expect(phases[0]).toBe('ADDED:Pending');
    expect(phases).toContain('MODIFIED:Succeeded');
  });

  it('rejects an invalid pod with 422 Invalid and the field path', async () => {
    const api = core(fake.kubeConfig());
    const err = await apiError(
      api.createNamespacedPod({
        namespace: NS,
        body: pod('bad', {
          containers: [
            { name: 'Main_1', image: 'alpine', command: ['true'] },
            { name: 'b', image: '', command: ['true'], volumeMounts: [{ name: 'nope', mountPath: '/x' }] },
          ],
        }),
      }),
    );
    expect(err.code).toBe(422);
    expect(err.status.reason).toBe('Invalid');
    expect(err.status.message).toContain(
      'Pod "bad" is invalid: [spec.containers[0].name: Invalid value: "Main_1": a lowercase RFC 1123 label',
    );
    expect(err.status.message).toContain('spec.containers[1].image: Required value');
    expect(err.status.message).toContain('spec.containers[1].volumeMounts[0].name: Not found: "nope"');
    expect(err.status.details?.causes?.map((c) => c.field)).toContain('spec.containers[0].name');
    const dup = await apiError(
      api.createNamespacedPod({
        namespace: NS,
        body: pod('dup', {
          initContainers: [{ name: 'a', image: 'x', command: ['true'] }],
          containers: [{ name: 'a', image: 'x', command: ['true'] }],
        }),
      }),
    );
    expect(dup.status.message).toBe('Pod "dup" is invalid: spec.containers[0].name: Duplicate value: "a"');
    const missing = await apiError(api.readNamespacedPod({ namespace: NS, name: 'nope' }));
    expect(missing).toMatchObject({
      code: 404,
      status: { reason: 'NotFound', message: 'pods "nope" not found' },
    });
  });

  it('deletes a running pod: SIGTERM, processes gone, DELETED watch event', async () => {
    const kc = fake.kubeConfig();
    const api = core(kc);
    await api.createNamespacedPod({
      namespace: NS,
      body: pod('long', {
        containers: [{ name: 'main', image: 'alpine', command: ['sh', '-c', 'sleep 300 & wait'] }],
      }),
    });
    await waitForPod(kc, NS, 'long', isPhase('Running'));
    const pids = fake.containerPids(NS, 'long');
    expect(pids.length).toBe(1);
    const deleted = waitForPod(kc, NS, 'long', (_p, type) => type === 'DELETED');
    const resp = await api.deleteNamespacedPod({ namespace: NS, name: 'long', gracePeriodSeconds: 5 });
    expect(resp.metadata?.deletionTimestamp).toBeDefined();
    await deleted;
    for (const pid of pids) expect(liveProcessesInGroup(pid)).toEqual([]);
    await expect(api.readNamespacedPod({ namespace: NS, name: 'long' })).rejects.toMatchObject({ code: 404 });
  });

  it('deletes a Pending pod at once', async () => {
    const kc = fake.kubeConfig();
    const api = core(kc);
    await api.createNamespacedPod({
      namespace: NS,
      body: pod('nowhere', {
        nodeSelector: { 'no-such': 'label' },
        containers: [{ name: 'main', image: 'alpine', command: ['true'] }],
      }),
    });
    await waitForPod(
      kc,
      NS,
      'nowhere',
      (p) => p.status?.conditions?.some((c) => c.reason === 'Unschedulable') ?? false,
    );
    const deleted = waitForPod(kc, NS, 'nowhere', (_p, type) => type === 'DELETED');
    await api.deleteNamespacedPod({ namespace: NS, name: 'nowhere' });
    await deleted;
  });

  it('execs a command in a running container over the channel protocol', async () => {
    const kc = fake.kubeConfig();
    const api = core(kc);
    await api.createNamespacedPod({
      namespace: NS,
      body: pod('exec-me', {
        volumes: [{ name: 'data', emptyDir: {} }],
        containers: [
          {
            name: 'main',
            image: 'alpine',
            command: ['sh', '-c', `echo hello > ${p('/data')}/f; sleep 300`],
            env: [{ name: 'GREETING', value: 'hi' }],
            volumeMounts: [{ name: 'data', mountPath: '/data' }],
          },
        ],
      }),
    });
    await waitForPod(kc, NS, 'exec-me', isPhase('Running'));
    const run = async (command: string[]): Promise<{ out: string; err: string; status: V1Status }> => {
      const out = new Collect();
      const err = new Collect();
      const status = await new Promise<V1Status>((resolve, reject) => {
        new Exec(kc).exec(NS, 'exec-me', 'main', command, out, err, null, false, resolve).catch(reject);
      });
      return { out: await out.ended, err: await err.ended, status };
    };
    // The container is Running once its process started; wait (inside the container) for its file.
    const ok = await run([
      'sh',
      '-c',
      `while [ ! -s ${p('/data')}/f ]; do sleep 0.05; done; cat ${p('/data')}/f; echo "$GREETING" >&2`,
    ]);
    expect(ok).toMatchObject({ out: 'hello\n', err: 'hi\n', status: { status: 'Success' } });
    const failed = await run(['sh', '-c', 'exit 3']);
    expect(failed.status).toMatchObject({
      status: 'Failure',
      reason: 'NonZeroExitCode',
      details: { causes: [{ reason: 'ExitCode', message: '3' }] },
    });
    const missing = await run(['no-such-binary']);
    expect(missing.status.status).toBe('Failure');
    expect(missing.status.message).toContain('executable file not found in $PATH');
    await api.deleteNamespacedPod({ namespace: NS, name: 'exec-me', gracePeriodSeconds: 0 });
  });

  it('execs with tty under a pseudo-terminal sized from the resize channel; a completed pod is refused', async () => {
    const kc = fake.kubeConfig();
    const api = core(kc);
    await api.createNamespacedPod({
      namespace: NS,
      body: pod('tty-me', {
        containers: [{ name: 'main', image: 'alpine', command: ['sh', '-c', 'sleep 300'] }],
      }),
    });
    await waitForPod(kc, NS, 'tty-me', isPhase('Running'));
    // A stdout with rows/columns is what client-node treats as a terminal: it sends its size on
    // channel 4 at once and again on each 'resize'.
    const out = Object.assign(new Collect(), { rows: 30, columns: 100 });
    const stdin = new PassThrough();
    const status = new Promise<V1Status>((resolve, reject) => {
      new Exec(kc)
        .exec(
          NS,
          'tty-me',
          'main',
          [
            'sh',
            '-c',
            'until [ "$(stty size)" = "30 100" ]; do sleep 0.05; done; tty; echo sized; read line; until [ "$(stty size)" = "40 120" ]; do sleep 0.05; done; echo "resized after $line"; exit 3',
          ],
          out,
          null,
          stdin,
          true,
          resolve,
        )
        .catch(reject);
    });
    await out.until('sized');
    Object.assign(out, { rows: 40, columns: 120 });
    out.emit('resize');
    stdin.write('go\r');
    expect(await status).toMatchObject({
      reason: 'NonZeroExitCode',
      details: { causes: [{ reason: 'ExitCode', message: '3' }] },
    });
    // A terminal: its line endings, and the typed line echoed back.
    expect(await out.ended).toMatch(/^\/dev\/pts\/\d+\r\nsized\r\ngo\r\nresized after go\r\n$/);

    await api.deleteNamespacedPod({ namespace: NS, name: 'tty-me', gracePeriodSeconds: 0 });
    await api.createNamespacedPod({
      namespace: NS,
      body: pod('tty-done', {
        containers: [{ name: 'main', image: 'alpine', command: ['sh', '-c', 'exit 3'] }],
      }),
    });
    await waitForPod(kc, NS, 'tty-done', isPhase('Failed'));
    const refused = await new Exec(kc)
      .exec(NS, 'tty-done', 'main', ['sh'], new Collect(), null, new PassThrough(), true)
      .then(
        () => 'accepted',
        (err: unknown) => (err as Error).message,
      );
    // The API server's 400 (`cannot exec into a container in a completed pod; current phase is
    // Failed`) reaches client-node's websocket only as its status line.
    expect(refused).toBe('Unexpected server response: 400');
  });

  it('resolves env from secrets and reports a missing secret as CreateContainerConfigError', async () => {
    const kc = fake.kubeConfig();
    const api = core(kc);
    await api.createNamespacedSecret({
      namespace: NS,
      body: {
        metadata: { name: 'creds', labels: { 'outpost.dev/step': 's2' } },
        stringData: { token: 's3cret' },
      },
    });
    const secrets = await api.listNamespacedSecret({ namespace: NS, labelSelector: 'outpost.dev/step=s2' });
    expect(secrets.items[0]?.data?.token).toBe(Buffer.from('s3cret').toString('base64'));
    await api.createNamespacedPod({
      namespace: NS,
      body: pod('with-secret', {
        containers: [
          {
            name: 'main',
            image: 'alpine',
            command: ['sh', '-c', 'echo "token=$TOKEN"'],
            env: [{ name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'creds', key: 'token' } } }],
          },
        ],
      }),
    });
    await waitForPod(kc, NS, 'with-secret', isPhase('Succeeded'));
    expect(await api.readNamespacedPodLog({ namespace: NS, name: 'with-secret' })).toBe('token=s3cret\n');

    await api.createNamespacedPod({
      namespace: NS,
      body: pod('no-secret', {
        containers: [
          {
            name: 'main',
            image: 'alpine',
            command: ['true'],
            env: [{ name: 'T', valueFrom: { secretKeyRef: { name: 'absent', key: 'k' } } }],
          },
        ],
      }),
    });
    const stuck = await waitForPod(
      kc,
      NS,
      'no-secret',
      (p) => p.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'CreateContainerConfigError',
    );
    expect(stuck.status?.phase).toBe('Pending');
    expect(stuck.status?.containerStatuses?.[0]?.state?.waiting?.message).toBe('secret "absent" not found');
    const logErr = await apiError(api.readNamespacedPodLog({ namespace: NS, name: 'no-secret' }));
    expect(logErr.code).toBe(400);
    await waitForEvent(
      kc,
      NS,
      (e) => e.involvedObject.name === 'no-secret' && e.message === 'Error: secret "absent" not found',
    );
    await api.deleteNamespacedPod({ namespace: NS, name: 'no-secret' });
    await api.deleteNamespacedSecret({ namespace: NS, name: 'creds' });
  });

  it('answers 401 without the bearer token', async () => {
    const kc = fake.kubeConfig();
    const user = kc.getCurrentUser()!;
    (user as { token?: string }).token = 'wrong';
    const err = await apiError(core(kc).listNamespacedPod({ namespace: NS }));
    expect(err.code).toBe(401);
  });
});

describe('fake kube: RBAC', () => {
  it('answers 403 Forbidden for anything outside the allow list and records what was used', async () => {
    const rbacFake = await startFakeKube({
      namespaces: [NS],
      user: 'system:serviceaccount:ci:outpost-agent',
      rbac: [
        { verbs: ['get', 'list', 'watch', 'create', 'delete'], resources: ['pods'], namespaces: [NS] },
        { verbs: ['get'], resources: ['pods/log'], namespaces: [NS] },
      ],
    });
    try {
      const api = core(rbacFake.kubeConfig());
      await api.listNamespacedPod({ namespace: NS });
      const err = await apiError(api.listNamespacedSecret({ namespace: NS }));
      expect(err.code).toBe(403);
      expect(err.status).toMatchObject({
        reason: 'Forbidden',
        message:
          'secrets is forbidden: User "system:serviceaccount:ci:outpost-agent" cannot list resource "secrets" in API group "" in the namespace "ci"',
      });
      const other = await apiError(api.listNamespacedPod({ namespace: 'default' }));
      expect(other.code).toBe(403);
      expect(rbacFake.permissionsUsed()).toContainEqual({ verb: 'list', resource: 'pods', namespace: NS });
    } finally {
      await rbacFake.close();
    }
  });
});

describe('fake kube: image files', () => {
  it("writes an image's declared files into its containers, found by repository under any tag or digest", async () => {
    const withImages = await startFakeKube({
      namespaces: [NS],
      images: {
        'registry.example/tool': {
          files: {
            '/opt/tool/hello': '#!/bin/sh\necho "hello from the image: $*"; cat /opt/tool/data.txt\n',
            '/opt/tool/data.txt': { content: 'data\n', mode: 0o644 },
          },
        },
      },
    });
    try {
      const kc = withImages.kubeConfig();
      const at = (file: string) => (withImages.isolation === 'chroot' ? file : `$FAKE_KUBE_ROOT${file}`);
      const script = `${at('/opt/tool/hello')} a b; ls -l ${at('/opt/tool/data.txt')} | cut -c1-10`;
      for (const [name, image] of [
        ['by-tag', 'registry.example/tool:1.2'],
        ['by-digest', `registry.example/tool@sha256:${'0'.repeat(64)}`],
      ] as const) {
        await core(kc).createNamespacedPod({
          namespace: NS,
          body: pod(name, { containers: [{ name: 'main', image, command: ['sh', '-c', script] }] }),
        });
        const done = await waitForPod(kc, NS, name, isPhase('Succeeded', 'Failed'));
        expect(done.status?.phase).toBe('Succeeded');
        const log = await core(kc).readNamespacedPodLog({ namespace: NS, name, container: 'main' });
        expect(log).toEqual(
          withImages.isolation === 'chroot'
            ? 'hello from the image: a b\ndata\n-rw-r--r--\n'
            : expect.stringContaining('hello from the image: a b\n'),
        );
      }
    } finally {
      await withImages.close();
    }
  });
});
