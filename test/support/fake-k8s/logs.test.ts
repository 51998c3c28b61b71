// pods/log as a kubelet serves it: the log file rotates at a size (a new request reads only the current
// file, a follow goes on across the rotation), and a follow connection can go silent (half-open).
// client-node's models are classes, but its API accepts plain JSON objects (it serializes them).
/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment */
import { Log, type V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeKube, type FakeKube } from './index.js';
import { Collect, core, go, isPhase, untilGo, waitForPod } from './test-helpers.js';

const NS = 'ci';
const ROTATE_BYTES = 4096;
let fake: FakeKube;

beforeAll(async () => {
  fake = await startFakeKube({ namespaces: [NS], logRotateBytes: ROTATE_BYTES });
});
afterAll(async () => {
  await fake.close();
});

async function startPod(name: string, script: string): Promise<void> {
  const body: V1Pod = {
    metadata: { name },
    spec: {
      restartPolicy: 'Never',
      volumes: [{ name: 'work', emptyDir: {} }],
      containers: [
        {
          name: 'step',
          image: 'busybox',
          command: ['sh', '-c', script.replaceAll('wait-go', untilGo(fake.isolation, '/work'))],
          volumeMounts: [{ name: 'work', mountPath: '/work' }],
        },
      ],
    },
  };
  await core(fake.kubeConfig()).createNamespacedPod({ namespace: NS, body });
  await waitForPod(fake.kubeConfig(), NS, name, (p) =>
    Boolean(p.status?.containerStatuses?.[0]?.state?.running),
  );
}

/** Lets the container go on (it waits in wait-go). */
const goOn = (pod: string) =>
  go(fake.kubeConfig(), fake.isolation, { namespace: NS, pod, container: 'step', dir: '/work' });

const follow = async (name: string, out: Collect) =>
  new Log(fake.kubeConfig()).log(NS, name, 'step', out, { follow: true, timestamps: true });

const textOf = (lines: string) => lines.replace(/^\S+ /gm, '');

describe('fake kube: pods/log like a kubelet', () => {
  it('rotates the log file at a size: a new request reads only the current file, a follow reads on', async () => {
    await startPod(
      'rotating',
      'wait-go; for i in $(seq 1 200); do echo "line $i of a log that rotates"; done',
    );
    const followed = new Collect();
    await follow('rotating', followed);
    await goOn('rotating');
    const all = await followed.ended;
    const expected = Array.from({ length: 200 }, (_, i) => `line ${i + 1} of a log that rotates\n`).join('');
    expect(textOf(all)).toBe(expected);
    await waitForPod(fake.kubeConfig(), NS, 'rotating', isPhase('Succeeded'));

    const current = await core(fake.kubeConfig()).readNamespacedPodLog({
      namespace: NS,
      name: 'rotating',
      container: 'step',
      timestamps: true,
    });
    // The newest lines only, fewer bytes than a file holds; what the kubelet rotated away is gone.
    expect(current.length).toBeGreaterThan(0);
    expect(current.length).toBeLessThan(ROTATE_BYTES);
    expect(all.endsWith(current)).toBe(true);
    expect(current).not.toContain('line 1 of');
    // sinceTime from before the rotation cannot bring the old lines back.
    const resumed = new Collect();
    await new Log(fake.kubeConfig()).log(NS, 'rotating', 'step', resumed, {
      timestamps: true,
      sinceTime: all.slice(0, 19) + 'Z',
    });
    expect(await resumed.ended).toBe(current);
  });

  it('a silenced follow gets nothing more and never ends; a new request reads every line', async () => {
    await startPod('silent', 'echo first; wait-go; echo second');
    const followed = new Collect();
    const abort = await follow('silent', followed);
    await followed.until('first\n');
    expect(fake.silenceLogFollows('silent')).toBe(1);
    await goOn('silent');
    await waitForPod(fake.kubeConfig(), NS, 'silent', isPhase('Succeeded'));
    const again = await core(fake.kubeConfig()).readNamespacedPodLog({
      namespace: NS,
      name: 'silent',
      container: 'step',
    });
    expect(again).toBe('first\nsecond\n');
    expect(textOf(followed.text)).toBe('first\n');
    expect(followed.writableFinished).toBe(false);
    abort.abort();
  });
});
