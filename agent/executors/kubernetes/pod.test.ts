import { describe, expect, it } from 'vitest';
import type { ExecStep } from '../executor.js';
import { buildPod, imageOf, PodSpecError, stepResources } from './pod.js';
import { inputsCommand } from './data-path.js';
import { strategicMerge } from './patch.js';
import { ids, linuxPool, linuxStep, windowsPool, windowsStep } from './examples.test-fixtures.js';

describe('buildPod', () => {
  it('turns a Linux step into a restricted pod with helpers for inputs and outputs', () => {
    const mounts = [{ name: 'workspace', mountPath: '/workspace' }];
    const restricted = { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } };
    const helper = { requests: { cpu: '10m', memory: '32Mi' }, limits: { cpu: '500m', memory: '256Mi' } };
    expect(buildPod(linuxStep, linuxPool, ids('outpost-test-6f1c'))).toEqual({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'outpost-test-6f1c',
        namespace: 'ci',
        labels: {
          'app.kubernetes.io/managed-by': 'outpost',
          'outpost.dev/agent': 'edge-1',
          'outpost.dev/pool': 'linux',
          'outpost.dev/lease': '6f1c2a9e-0b7d-4c1e-9a55-3f2d8e4b1c00',
          'outpost.dev/team': 'main',
          'outpost.dev/pipeline': 'app',
          'outpost.dev/job': 'unit',
          'outpost.dev/build': '1042',
          'outpost.dev/step-run': '7',
        },
        annotations: {
          'outpost.dev/lease': '6f1c2a9e-0b7d-4c1e-9a55-3f2d8e4b1c00',
          'outpost.dev/outputs': '[{"name":"report","path":"report"}]',
          'outpost.dev/timeout-ms': '1800000',
          'outpost.dev/step': 'test',
          'outpost.dev/build-name': '42',
        },
      },
      spec: {
        restartPolicy: 'Never',
        activeDeadlineSeconds: 1800,
        os: { name: 'linux' },
        nodeSelector: { 'node-pool': 'ci', 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64' },
        tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'ci', effect: 'NoSchedule' }],
        automountServiceAccountToken: false,
        priorityClassName: 'ci-steps',
        imagePullSecrets: [{ name: 'registry-creds' }],
        enableServiceLinks: false,
        // Pod Security "restricted" by default: a numeric non-root uid, its group owning the workspace.
        securityContext: {
          runAsNonRoot: true,
          runAsUser: 65532,
          runAsGroup: 65532,
          fsGroup: 65532,
          seccompProfile: { type: 'RuntimeDefault' },
        },
        volumes: [{ name: 'workspace', emptyDir: {} }],
        initContainers: [
          {
            name: 'inputs',
            image: 'busybox:1.37',
            // The script itself runs against the fake in executor.test.ts and data-path.test.ts.
            command: inputsCommand(linuxPool),
            stdin: true,
            stdinOnce: true,
            terminationMessagePolicy: 'FallbackToLogsOnError',
            volumeMounts: mounts,
            resources: helper,
            securityContext: restricted,
          },
        ],
        containers: [
          {
            name: 'step',
            image: 'golang:1.23',
            command: ['sh'],
            args: ['-c', 'cd src && make test > ../report/out.txt'],
            workingDir: '/workspace',
            env: [{ name: 'CI', value: 'true' }],
            volumeMounts: mounts,
            // 1 GiB asked, 4Gi ceiling: kept; no CPU asked: the pool's default.
            resources: {
              requests: { cpu: '500m', memory: '1073741824' },
              limits: { cpu: '500m', memory: '1073741824' },
            },
            securityContext: restricted,
          },
          {
            name: 'outputs',
            image: 'busybox:1.37',
            command: ['sh', '-c', 'trap "exit 0" TERM INT; while true; do sleep 1; done'],
            // Where `outpost intercept` lands once the step failed: the step's directory and env.
            workingDir: '/workspace',
            env: [{ name: 'CI', value: 'true' }],
            volumeMounts: mounts,
            resources: helper,
            securityContext: restricted,
          },
        ],
      },
    });
  });

  it('turns a Windows step into a Windows pod: os, build label, taint toleration, paths, no Linux fields', () => {
    const pod = buildPod(windowsStep, windowsPool, ids('outpost-build-0d9e'));
    expect(pod.spec?.os).toEqual({ name: 'windows' });
    expect(pod.spec?.nodeSelector).toEqual({
      'kubernetes.io/os': 'windows',
      'node.kubernetes.io/windows-build': '10.0.20348',
    });
    expect(pod.spec?.tolerations).toEqual([
      { key: 'os', operator: 'Equal', value: 'windows', effect: 'NoSchedule' },
    ]);
    // Pod Security `restricted` asks Windows pods for runAsNonRoot only (not seccomp, capabilities,
    // allowPrivilegeEscalation, which the API server rejects on Windows pods).
    expect(pod.spec?.securityContext).toEqual({
      runAsNonRoot: true,
      windowsOptions: { runAsUserName: 'ContainerUser' },
    });
    expect(pod.spec?.initContainers?.[0]).toMatchObject({
      image: 'mcr.microsoft.com/windows/nanoserver:ltsc2022',
      // ContainerUser owns what it extracted, so it may let BUILTIN\Users (the step's ContainerUser) modify it.
      command: [
        'cmd',
        '/S',
        '/C',
        'tar -xf - -C "C:\\workspace" && icacls "C:\\workspace\\src" /grant *S-1-5-32-545:(OI)(CI)M /T /Q',
      ],
      volumeMounts: [{ name: 'workspace', mountPath: 'C:\\workspace' }],
    });
    expect(pod.spec?.initContainers?.[0]?.securityContext).toBeUndefined();
    expect(pod.spec?.containers).toHaveLength(2);
    expect(pod.spec?.containers[0]).toMatchObject({
      image: 'mcr.microsoft.com/windows/servercore:ltsc2022',
      command: ['cmd'],
      workingDir: 'C:\\workspace\\src',
    });
    // No outputs, but the pool keeps failed steps: the helper idles, to be entered by intercept.
    expect(pod.spec?.containers[1]).toMatchObject({
      name: 'outputs',
      command: ['cmd', '/S', '/C', 'ping -t 127.0.0.1 > NUL'],
      workingDir: 'C:\\workspace\\src',
      env: [{ name: 'CONFIGURATION', value: 'Release' }],
    });
    // No timeout: still a deadline (a day), so a pod the agent lost cannot run for ever.
    expect(pod.spec?.activeDeadlineSeconds).toBe(86_400);
  });

  it("a Windows pool without windows_build selects the build its step image's tag names", () => {
    const build = (image: ExecStep['image'], pool = windowsPool) =>
      buildPod({ ...windowsStep, ...(image ? { image } : {}) }, pool, ids('p')).spec?.nodeSelector?.[
        'node.kubernetes.io/windows-build'
      ];
    // No image_resource: the pool's default image (servercore:ltsc2022).
    expect(build(undefined)).toBe('10.0.20348');
    expect(build({ repository: 'mcr.microsoft.com/windows/servercore', tag: 'ltsc2019' })).toBe('10.0.17763');
    expect(
      build({ repository: 'mcr.microsoft.com/dotnet/framework/sdk', tag: '4.8-windowsservercore-ltsc2025' }),
    ).toBe('10.0.26100');
    expect(build({ repository: 'mcr.microsoft.com/windows/nanoserver', tag: '10.0.17763.6414' })).toBe(
      '10.0.17763',
    );
    // A tag that names no build: the helper image's (nanoserver:ltsc2022).
    expect(build({ repository: 'team/builder', tag: 'v3' })).toBe('10.0.20348');
    // The pool's own setting wins.
    expect(build({ repository: 'x', tag: 'ltsc2019' }, { ...windowsPool, windowsBuild: '10.0.20348' })).toBe(
      '10.0.20348',
    );
  });

  it('a Windows inputs helper grants Modify on every top-level directory, and refuses cmd metacharacters', () => {
    const pod = buildPod(
      { ...windowsStep, outputs: [{ name: 'bin', path: 'out/bin' }], run: { ...windowsStep.run, dir: '' } },
      windowsPool,
      ids('p'),
    );
    expect(pod.spec?.initContainers?.[0]?.command?.[3]).toBe(
      'tar -xf - -C "C:\\workspace" && icacls "C:\\workspace\\src" /grant *S-1-5-32-545:(OI)(CI)M /T /Q && ' +
        'icacls "C:\\workspace\\out" /grant *S-1-5-32-545:(OI)(CI)M /T /Q',
    );
    expect(() =>
      buildPod(
        { ...windowsStep, inputs: [{ name: 'x', path: 'a&b', archive: undefined }] },
        windowsPool,
        ids('p'),
      ),
    ).toThrow(new PodSpecError('path "a&b": a Windows pool\'s paths cannot contain " % & | < > ^'));
  });

  it('a Windows pool with outputs idles its helper with cmd', () => {
    const pod = buildPod({ ...windowsStep, outputs: [{ name: 'bin', path: 'bin' }] }, windowsPool, ids('p'));
    expect(pod.spec?.containers[1]?.command).toEqual(['cmd', '/S', '/C', 'ping -t 127.0.0.1 > NUL']);
  });

  it("runs as the pool's user when it names one; fsGroup is its group, else the user", () => {
    const pod = buildPod(linuxStep, { ...linuxPool, runAsUser: 1000, runAsGroup: 2000 }, ids('p'));
    expect(pod.spec?.securityContext).toEqual({
      seccompProfile: { type: 'RuntimeDefault' },
      runAsNonRoot: true,
      runAsUser: 1000,
      runAsGroup: 2000,
      fsGroup: 2000,
    });
    const userOnly = buildPod(linuxStep, { ...linuxPool, runAsUser: 1000 }, ids('p'));
    expect(userOnly.spec?.securityContext).toEqual({
      seccompProfile: { type: 'RuntimeDefault' },
      runAsNonRoot: true,
      runAsUser: 1000,
      fsGroup: 1000,
    });
  });

  it('privileged only when the pool allows it, else a clear error', () => {
    const step: ExecStep = { ...linuxStep, privileged: true };
    expect(() => buildPod(step, linuxPool, ids('p'))).toThrow(
      new PodSpecError('privileged: pool "linux" does not allow privileged steps (allow_privileged)'),
    );
    const pod = buildPod(step, { ...linuxPool, allowPrivileged: true }, ids('p'));
    expect(pod.spec?.containers[0]?.securityContext).toEqual({ privileged: true });
    // The helpers stay restricted.
    expect(pod.spec?.initContainers?.[0]?.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
    expect(() => buildPod(step, { ...windowsPool, allowPrivileged: true }, ids('p'))).toThrow(
      /cannot be privileged/,
    );
  });

  it('reads cluster-secret env vars with secretKeyRef, only from the Secrets the pool may read', () => {
    const step: ExecStep = {
      ...linuxStep,
      secretEnv: [
        { name: 'PGPASSWORD', source: 'cluster-secrets', secret: 'db-credentials', key: 'password' },
      ],
    };
    const pod = buildPod(step, { ...linuxPool, readableSecrets: ['db-credentials'] }, ids('p'));
    expect(pod.spec?.containers[0]?.env).toEqual([
      { name: 'CI', value: 'true' },
      { name: 'PGPASSWORD', valueFrom: { secretKeyRef: { name: 'db-credentials', key: 'password' } } },
    ]);
    // The inputs helper never sees it; the outputs helper, which `outpost intercept` enters once the
    // step failed, has the step's environment.
    expect(pod.spec?.initContainers?.[0]?.env).toBeUndefined();
    expect(pod.spec?.containers[1]?.env).toEqual(pod.spec?.containers[0]?.env);
    expect(() => buildPod(step, { ...linuxPool, readableSecrets: ['other'] }, ids('p'))).toThrow(
      new PodSpecError(
        'env PGPASSWORD: secret "db-credentials" (var source "cluster-secrets") is not readable by pool "linux"; ' +
          'the agent config lists the ones it may read in kubernetes.readable_secrets',
      ),
    );
  });

  it('refuses paths outside the workspace', () => {
    const bad = { ...linuxStep, inputs: [{ name: 'x', path: '../etc', archive: undefined }] };
    expect(() => buildPod(bad, linuxPool, ids('p'))).toThrow('input "x" path "../etc": escapes the work dir');
    expect(() =>
      buildPod({ ...linuxStep, run: { ...linuxStep.run, dir: '/abs' } }, linuxPool, ids('p')),
    ).toThrow('run.dir "/abs": must be relative to the work dir');
  });

  it('applies the pool pod patch last, merging containers and env by name', () => {
    const pod = buildPod(
      linuxStep,
      {
        ...linuxPool,
        podPatch: {
          metadata: { annotations: { 'cluster-autoscaler.kubernetes.io/safe-to-evict': 'false' } },
          spec: {
            containers: [{ name: 'step', env: [{ name: 'HTTP_PROXY', value: 'http://proxy:3128' }] }],
            dnsPolicy: 'ClusterFirst',
          },
        },
      },
      ids('p'),
    );
    expect(pod.metadata?.annotations?.['cluster-autoscaler.kubernetes.io/safe-to-evict']).toBe('false');
    expect(pod.metadata?.annotations?.['outpost.dev/lease']).toBe(linuxStep.leaseId);
    expect(pod.spec?.containers[0]?.env).toEqual([
      { name: 'CI', value: 'true' },
      { name: 'HTTP_PROXY', value: 'http://proxy:3128' },
    ]);
    expect(pod.spec?.containers[0]?.image).toBe('golang:1.23');
    expect(pod.spec?.containers).toHaveLength(2);
    expect(pod.spec?.dnsPolicy).toBe('ClusterFirst');
  });
});

describe('images and resources', () => {
  it('digest over tag, latest without either, the pool default without an image', () => {
    expect(imageOf({ repository: 'r/x', tag: '1', digest: 'sha256:ab' }, linuxPool)).toBe('r/x@sha256:ab');
    expect(imageOf({ repository: 'r/x' }, linuxPool)).toBe('r/x:latest');
    expect(imageOf(undefined, linuxPool)).toBe('busybox:1.37');
    // An image artifact has no name until it is pushed: never the pool's default in its place.
    expect(() =>
      imageOf({ repository: '', artifact: { digest: 'sha256:ab', archive: undefined } }, linuxPool),
    ).toThrow(PodSpecError);
  });

  it('a resource step from an image keeps kind, type and response output in an annotation, never its request', () => {
    const request = JSON.stringify({ source: { uri: 'https://user:secret@git.example/app.git' } });
    const step: ExecStep = {
      ...linuxStep,
      resource: { kind: 'get', type: 'git', builtin: false, request, responseOutput: '.response' },
    };
    const pod = buildPod(step, linuxPool, ids('p'));
    expect(JSON.parse(pod.metadata?.annotations?.['outpost.dev/resource'] ?? '')).toEqual({
      kind: 'get',
      type: 'git',
      responseOutput: '.response',
    });
    expect(JSON.stringify(pod)).not.toContain('secret@');
    // Not run from an image by the wrapper (no response output): no annotation.
    const plain = { ...step, resource: { kind: 'check' as const, type: 'git', builtin: false, request } };
    expect(buildPod(plain, linuxPool, ids('p')).metadata?.annotations).not.toHaveProperty(
      'outpost.dev/resource',
    );
    expect(buildPod(linuxStep, linuxPool, ids('p')).metadata?.annotations).not.toHaveProperty(
      'outpost.dev/resource',
    );
  });

  it('bounds container_limits by the ceilings; CPU shares count 1024 per core', () => {
    const big = { ...linuxStep, memoryLimitBytes: 16 * 2 ** 30, cpuShares: 8192 };
    expect(stepResources(big, linuxPool)).toEqual({
      requests: { cpu: '2', memory: '4Gi' },
      limits: { cpu: '2', memory: '4Gi' },
    });
    expect(stepResources({ ...linuxStep, memoryLimitBytes: 0, cpuShares: 512 }, linuxPool)).toEqual({
      requests: { cpu: '500m', memory: '512Mi' },
      limits: { cpu: '500m', memory: '512Mi' },
    });
    const none = { ...linuxPool, resources: { defaults: {}, ceilings: {} } };
    expect(stepResources({ ...linuxStep, memoryLimitBytes: 0 }, none)).toEqual({});
  });
});

describe('strategicMerge', () => {
  const base = {
    spec: {
      containers: [
        { name: 'a', image: 'x', env: [{ name: 'K', value: '1' }], ports: [{ containerPort: 80 }] },
        { name: 'b', image: 'y' },
      ],
      volumes: [{ name: 'v', emptyDir: {} }],
      tolerations: [{ key: 't' }],
      nodeSelector: { a: '1', b: '2' },
    },
  };

  it('merges keyed lists by their merge key, replaces other lists, null deletes', () => {
    const out = strategicMerge(base, {
      spec: {
        containers: [
          {
            name: 'a',
            env: [
              { name: 'K', value: '2' },
              { name: 'L', value: '3' },
            ],
          },
          { name: 'c', image: 'z' },
        ],
        volumes: [{ name: 'cache', emptyDir: { medium: 'Memory' } }],
        tolerations: [{ key: 'u' }],
        nodeSelector: { b: null, c: '3' },
      },
    });
    expect(out).toEqual({
      spec: {
        containers: [
          {
            name: 'a',
            image: 'x',
            env: [
              { name: 'K', value: '2' },
              { name: 'L', value: '3' },
            ],
            ports: [{ containerPort: 80 }],
          },
          { name: 'b', image: 'y' },
          { name: 'c', image: 'z' },
        ],
        volumes: [
          { name: 'v', emptyDir: {} },
          { name: 'cache', emptyDir: { medium: 'Memory' } },
        ],
        tolerations: [{ key: 'u' }],
        nodeSelector: { a: '1', c: '3' },
      },
    });
    expect(base.spec.containers[0]?.env).toEqual([{ name: 'K', value: '1' }]);
  });

  it('honours $patch: delete in list items and $patch: replace on maps', () => {
    const out = strategicMerge(base, {
      spec: {
        containers: [{ name: 'b', $patch: 'delete' }],
        nodeSelector: { $patch: 'replace', only: 'this' },
      },
    });
    expect(out.spec.containers.map((c) => c.name)).toEqual(['a']);
    expect(out.spec.nodeSelector).toEqual({ only: 'this' });
  });
});

describe('buildPod on the agent data path', () => {
  it('has the helpers fetch and push with the token from the step Secret, not on stdin', () => {
    const transfer = {
      inputs: { size: 10240, sha256: 'a'.repeat(64) },
      agent: { url: 'http://agent.ci.svc:7790/v1/steps/l-1', secret: 'outpost-test-6f1c-step' },
    };
    const pod = buildPod(linuxStep, linuxPool, { ...ids('outpost-test-6f1c'), transfer });
    const token = {
      name: 'OUTPOST_DATA_TOKEN',
      valueFrom: { secretKeyRef: { name: 'outpost-test-6f1c-step', key: 'data-token' } },
    };
    const url = { name: 'OUTPOST_DATA_URL', value: 'http://agent.ci.svc:7790/v1/steps/l-1' };
    const inputs = pod.spec?.initContainers?.[0];
    expect(inputs?.stdin).toBeUndefined();
    expect(inputs?.env).toEqual([
      { name: 'OUTPOST_INPUTS_SIZE', value: '10240' },
      { name: 'OUTPOST_INPUTS_SHA256', value: 'a'.repeat(64) },
      url,
      token,
    ]);
    expect(pod.spec?.containers.find((c) => c.name === 'outputs')?.env).toEqual([
      { name: 'CI', value: 'true' },
      url,
      token,
    ]);
    expect(JSON.stringify(pod)).not.toContain('Bearer ey');
  });

  it('runs the outputs helper for a step with caches but no outputs', () => {
    const unkept = { ...linuxPool, keepFailedSteps: false };
    const step: ExecStep = { ...linuxStep, outputs: [], caches: [{ path: 'cache/npm', dir: '/kept' }] };
    const pod = buildPod(step, unkept, ids('p'));
    expect(pod.spec?.containers.map((c) => c.name)).toEqual(['step', 'outputs']);
    const bare = buildPod({ ...step, caches: [] }, unkept, ids('p'));
    expect(bare.spec?.containers.map((c) => c.name)).toEqual(['step']);
    expect(() =>
      buildPod({ ...step, caches: [{ path: '../up', dir: '/kept' }] }, linuxPool, ids('p')),
    ).toThrow('cache path "../up": escapes the work dir');
  });
});

describe('a pool that keeps failed steps (keep_failed_steps_for)', () => {
  it("gives every pod the helper, in the step's directory with its environment but the helper's PATH", () => {
    const step: ExecStep = {
      ...linuxStep,
      outputs: [],
      run: { ...linuxStep.run, dir: 'src' },
      env: { CI: 'true', PATH: '/opt/go/bin:/usr/bin' },
    };
    const pod = buildPod(step, linuxPool, ids('p'));
    expect(pod.spec?.containers.map((c) => c.name)).toEqual(['step', 'outputs']);
    expect(pod.spec?.containers[1]).toMatchObject({
      image: 'busybox:1.37',
      workingDir: '/workspace/src',
      env: [{ name: 'CI', value: 'true' }],
    });
    expect(pod.spec?.containers[0]?.env).toContainEqual({ name: 'PATH', value: '/opt/go/bin:/usr/bin' });
  });
});
