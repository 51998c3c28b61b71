import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  AgentConfigError,
  loadAgentConfig,
  parseAgentConfig,
  type ParseAgentConfigOptions,
} from './config.js';

const host: ParseAgentConfigOptions = {
  file: '/etc/outpost/agent.yaml',
  env: {},
  hostname: 'box-1',
  cpus: 8,
  platform: 'linux',
  tmpdir: '/tmp',
};

const minimal = `
hub:
  address: 127.0.0.1:7777
token_file: token
pools:
  - name: local
`;

function problemsOf(text: string, opts: Partial<ParseAgentConfigOptions> = {}): string[] {
  try {
    parseAgentConfig(text, { ...host, ...opts });
  } catch (err) {
    expect(err).toBeInstanceOf(AgentConfigError);
    const e = err as AgentConfigError;
    expect(e.code).toBe('AGENT_CONFIG_INVALID');
    expect(e.message.split('\n').slice(1)).toEqual(e.problems);
    return [...e.problems];
  }
  throw new Error('expected an AgentConfigError');
}

describe('parseAgentConfig', () => {
  it('applies defaults from the host', () => {
    const c = parseAgentConfig(minimal, host);
    expect(c).toEqual({
      hub: {
        address: '127.0.0.1:7777',
        tls: {
          caFile: undefined,
          certFile: undefined,
          keyFile: undefined,
          serverName: undefined,
          insecurePlaintext: false,
        },
      },
      tokenFile: '/etc/outpost/token',
      name: 'box-1',
      cluster: 'default',
      workDir: '/tmp/outpost-agent-box-1',
      metrics: undefined,
      drainTimeoutSeconds: 600,
      cacheMaxBytes: 10 * 1024 * 1024 * 1024,
      taskCacheMaxBytes: 10 * 1024 * 1024 * 1024,
      dataEndpoint: undefined,
      pools: [
        {
          name: 'local',
          platform: 'linux',
          tags: [],
          executor: 'process',
          capacity: 8,
          builtinTypes: ['git', 'mock', 'registry-image', 'semver', 'time'],
          keepFailedStepsMs: 5 * 60_000,
          taskImages: false,
        },
      ],
    });
  });

  it('lets a process pool run task images chrooted, and no other pool', () => {
    const text = (executor: string) =>
      `hub:\n  address: 127.0.0.1:7777\ntoken_file: t\npools:\n  - name: k\n    executor: ${executor}\n    task_images: chroot\n`;
    expect(parseAgentConfig(text('process'), host).pools[0]!.taskImages).toBe(true);
    expect(problemsOf(text('kubernetes'), { file: 'a.yaml' })).toContain(
      'a.yaml:7:18: pools[0].task_images: only process pools take task_images (a kubernetes pool runs the image itself)',
    );
  });

  it('lets a pool say how long failed steps are kept for intercept', () => {
    const text = (value: string) =>
      `hub:\n  address: 127.0.0.1:7777\ntoken_file: t\npools:\n  - name: k\n    keep_failed_steps_for: ${value}\n`;
    expect(parseAgentConfig(text('90s'), host).pools[0]!.keepFailedStepsMs).toBe(90_000);
    expect(parseAgentConfig(text('"0"'), host).pools[0]!.keepFailedStepsMs).toBe(0);
    expect(problemsOf(text('5 minutes'), { file: 'a.yaml' })).toEqual([
      'a.yaml:6:28: pools[0].keep_failed_steps_for: must be a duration such as "5m" or "0" (Go syntax: "1h30m", "90s")',
    ]);
    expect(problemsOf(text('-1m'), { file: 'a.yaml' })).toHaveLength(1);
  });

  it('lets a pool list the built-in types it runs inside the agent', () => {
    const text = (types: string) =>
      `hub:\n  address: 127.0.0.1:7777\ntoken_file: t\npools:\n  - name: k\n    builtin_types: ${types}\n`;
    expect(parseAgentConfig(text('[git, time, git]'), host).pools[0]!.builtinTypes).toEqual(['git', 'time']);
    expect(problemsOf(text('[git, s3]'), { file: 'a.yaml' })).toEqual([
      'a.yaml:6:26: pools[0].builtin_types[1]: must be one of: git, mock, registry-image, semver, time (got "s3")',
    ]);
    expect(problemsOf(text('[]'), { file: 'a.yaml' })).toEqual([
      'a.yaml:6:20: pools[0].builtin_types: must list at least one type (leave it out for all)',
    ]);
  });

  it('maps win32 to windows for the default platform', () => {
    expect(parseAgentConfig(minimal, { ...host, platform: 'win32' }).pools[0]!.platform).toBe('windows');
    expect(parseAgentConfig(minimal, { ...host, platform: 'darwin' }).pools[0]!.platform).toBe('darwin');
  });

  it('reads every field, camelCased, relative paths against the config dir, deeply frozen', () => {
    const c = parseAgentConfig(
      `
hub:
  address: hub.example.com:443
  tls:
    ca_file: certs/ca.pem
    server_name: hub.internal
token_file: /run/secrets/token
name: edge-7
cluster: prod-eu
work_dir: ../work
metrics:
  listen: 0.0.0.0:9101
drain_timeout_seconds: 30
pools:
  - name: linux
    tags: [gpu, big]
    executor: kubernetes
    capacity: 16
  - name: windows-2022
    platform: windows
    executor: kubernetes
`,
      { ...host, file: 'conf/agent.yaml' },
    );
    const confDir = path.resolve('conf');
    expect(c.hub.tls).toEqual({
      caFile: path.join(confDir, 'certs/ca.pem'),
      certFile: undefined,
      keyFile: undefined,
      serverName: 'hub.internal',
      insecurePlaintext: false,
    });
    expect(c.tokenFile).toBe('/run/secrets/token');
    expect(c.workDir).toBe(path.resolve('work'));
    expect(c.metrics).toEqual({ listen: '0.0.0.0:9101' });
    expect(c.drainTimeoutSeconds).toBe(30);
    expect(c.name).toBe('edge-7');
    expect(c.cluster).toBe('prod-eu');
    expect(c.pools).toMatchObject([
      { name: 'linux', platform: 'linux', tags: ['gpu', 'big'], executor: 'kubernetes', capacity: 16 },
      { name: 'windows-2022', platform: 'windows', tags: [], executor: 'kubernetes', capacity: 8 },
    ]);
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.hub.tls)).toBe(true);
    expect(Object.isFrozen(c.pools[0]!.tags)).toBe(true);
    expect(() => {
      (c.pools as unknown as { name: string }[]).push({ name: 'x' });
    }).toThrow();
  });

  it('reports every problem with file:line:col and key path, in file order', () => {
    const text = `hub:
  address: nope
  tls:
    insecure_plaintext: yes please
token_file: ""
drain_timeout_seconds: -1
pools:
  - name: local
    capacity: 0
    platform: beos
  - name: 9lives
    tags: gpu
    executor: docker
`;
    expect(problemsOf(text, { file: 'agent.yaml' })).toEqual([
      'agent.yaml:2:12: hub.address: must be host:port',
      'agent.yaml:4:25: hub.tls.insecure_plaintext: must be true or false (got "yes please")',
      'agent.yaml:5:13: token_file: must not be empty',
      'agent.yaml:6:24: drain_timeout_seconds: must be an integer >= 0',
      'agent.yaml:9:15: pools[0].capacity: must be an integer >= 1',
      'agent.yaml:10:15: pools[0].platform: must be one of: linux, windows, darwin (got "beos")',
      'agent.yaml:11:11: pools[1].name: must be identifier-like (a letter, then letters, digits, "-" or "_")',
      'agent.yaml:12:11: pools[1].tags: must be a list (got "gpu")',
      'agent.yaml:13:15: pools[1].executor: must be one of: process, kubernetes (got "docker")',
    ]);
  });

  it('rejects unknown fields at the key, at any depth', () => {
    const text = `hub:
  address: h:1
  tsl: {}
token_file: t
pools:
  - name: a
    capacity: 2
    node_selector: {}
colour: blue
`;
    expect(problemsOf(text, { file: 'a.yaml' })).toEqual([
      'a.yaml:3:3: hub.tsl: unknown field "tsl"',
      'a.yaml:8:5: pools[0].node_selector: unknown field "node_selector"',
      'a.yaml:9:1: colour: unknown field "colour"',
    ]);
  });

  it('reports missing required fields at their parent', () => {
    expect(problemsOf('hub:\n  tls: {}\n', { file: 'x.yaml' })).toEqual([
      'x.yaml:1:1: token_file: required',
      'x.yaml:1:1: pools: required',
      'x.yaml:2:3: hub.address: required',
    ]);
    expect(problemsOf('', { file: 'x.yaml' })).toEqual(['x.yaml:1:1: (root): must be a mapping (got null)']);
    expect(problemsOf(minimal.replace('  - name: local\n', ''), { file: 'x.yaml' })).toEqual([
      'x.yaml:5:7: pools: required',
    ]);
    expect(
      problemsOf(minimal.replace('  - name: local', '  []').replace('pools:\n', 'pools:'), {
        file: 'x.yaml',
      }),
    ).toEqual(['x.yaml:5:9: pools: must list at least one pool']);
  });

  it('rejects duplicate pool names and process pools for another platform', () => {
    const text = `hub: { address: "h:1" }
token_file: t
pools:
  - name: mac
    platform: darwin
  - name: mac
    executor: kubernetes
    platform: linux
`;
    expect(problemsOf(text, { file: 'd.yaml' })).toEqual([
      'd.yaml:5:15: pools[0].platform: a process pool runs steps on this host, whose platform is linux',
      'd.yaml:6:11: pools[1].name: duplicate pool name (also pools[0])',
    ]);
  });

  it('needs an explicit platform on a host without a default', () => {
    expect(problemsOf(minimal, { file: 'f.yaml', platform: 'freebsd' })).toEqual([
      'f.yaml:6:5: pools[0]: platform: required (host platform "freebsd" has no default)',
    ]);
  });

  it('rejects insecure_plaintext together with TLS settings', () => {
    const text = `hub:
  address: h:1
  tls: { insecure_plaintext: true, ca_file: ca.pem }
token_file: t
pools: [{ name: a }]
`;
    expect(problemsOf(text, { file: 't.yaml' })).toEqual([
      't.yaml:3:30: hub.tls.insecure_plaintext: cannot be combined with ca_file, cert_file, key_file or server_name',
    ]);
  });

  it('takes a client certificate and its key together, resolved against the file (mTLS)', () => {
    const text = (tls: string) => `hub:
  address: h:1
  tls: { ${tls} }
token_file: t
pools: [{ name: a, run_as: nobody }]
`;
    const c = parseAgentConfig(text('cert_file: agent.crt, key_file: /keys/agent.key'), {
      ...host,
      file: 'conf/agent.yaml',
    });
    expect([c.hub.tls.certFile, c.hub.tls.keyFile]).toEqual([
      path.resolve('conf/agent.crt'),
      '/keys/agent.key',
    ]);
    expect(c.pools[0]?.runAs).toBe('nobody');
    expect(problemsOf(text('cert_file: agent.crt'), { file: 't.yaml' })).toEqual([
      "t.yaml:3:21: hub.tls.cert_file: needs key_file too (the client certificate's pair)",
    ]);
  });

  it('takes run_as only on process pools, as a user name, uid or uid:gid', () => {
    const text = (pool: string) => `hub: { address: h:1 }
token_file: t
pools: [{ ${pool} }]
`;
    expect(parseAgentConfig(text('name: a, run_as: "1000:1000"'), host).pools[0]?.runAs).toBe('1000:1000');
    expect(problemsOf(text('name: a, run_as: "a b"'), { file: 't.yaml' })).toEqual([
      't.yaml:3:28: pools[0].run_as: must be a user name, a uid or uid:gid',
    ]);
    expect(problemsOf(text('name: a, executor: kubernetes, run_as: x'), { file: 't.yaml' })).toEqual([
      't.yaml:3:50: pools[0].run_as: only process pools take run_as (a kubernetes pool has kubernetes.run_as_user)',
    ]);
  });

  it('reports YAML syntax errors and duplicate keys with positions', () => {
    expect(problemsOf('hub:\n  address: a:1\nhub: {}\n', { file: 'y.yaml' })).toEqual([
      expect.stringMatching(/^y\.yaml:3:1: .*unique/i),
    ]);
    expect(problemsOf('hub: [\n', { file: 'y.yaml' })[0]).toMatch(/^y\.yaml:\d+:\d+: /);
  });

  it('does not expand ${ENV_VAR}', () => {
    const c = parseAgentConfig(minimal.replace('token_file: token', 'token_file: ${TOKEN_FILE}'), {
      ...host,
      env: { TOKEN_FILE: '/x' },
    });
    expect(c.tokenFile).toBe('/etc/outpost/${TOKEN_FILE}');
  });
});

describe('kubernetes pools', () => {
  const k8s = `
hub:
  address: 127.0.0.1:7777
token_file: token
pools:
  - name: linux
    executor: kubernetes
    kubernetes:
      namespace: ci
      kubeconfig: kube/config
      context: prod
      node_selector: { node-pool: ci }
      arch: arm64
      tolerations: [{ key: dedicated, operator: Equal, value: ci, effect: NoSchedule }]
      affinity: { nodeAffinity: {} }
      service_account: ci-steps
      runtime_class: gvisor
      image_pull_secrets: [regcred]
      readable_secrets: [db-credentials, api-token]
      priority_class: ci
      resources: { defaults: { cpu: 500m, memory: 512Mi }, ceilings: { cpu: 2, memory: 4Gi } }
      pod_patch: { spec: { dnsPolicy: ClusterFirst } }
      allow_privileged: true
      helper_image: helper:1
      default_image: base:1
      run_as_user: 1000
      run_as_group: 1000
      pending_timeout_seconds: 60
      image_pull_grace_seconds: 5
  - name: windows
    platform: windows
    executor: kubernetes
    kubernetes:
      windows_build: "10.0.20348"
  - name: windows-untainted
    platform: windows
    executor: kubernetes
    kubernetes: { windows_toleration: false, workspace: 'D:\\ci', helper_shell: posix }
  - name: local
`;

  it('reads the kubernetes block, with defaults per platform, beside a process pool', () => {
    const c = parseAgentConfig(k8s, host);
    expect(c.pools.map((p) => [p.name, p.executor])).toEqual([
      ['linux', 'kubernetes'],
      ['windows', 'kubernetes'],
      ['windows-untainted', 'kubernetes'],
      ['local', 'process'],
    ]);
    expect(c.pools[0]!.kubernetes).toEqual({
      pool: 'linux',
      platform: 'linux',
      namespace: 'ci',
      kubeconfig: '/etc/outpost/kube/config',
      context: 'prod',
      nodeSelector: { 'node-pool': 'ci' },
      arch: 'arm64',
      windowsBuild: undefined,
      tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'ci', effect: 'NoSchedule' }],
      windowsToleration: undefined,
      affinity: { nodeAffinity: {} },
      serviceAccount: 'ci-steps',
      runtimeClass: 'gvisor',
      imagePullSecrets: ['regcred'],
      readableSecrets: ['db-credentials', 'api-token'],
      priorityClass: 'ci',
      resources: { defaults: { cpu: '500m', memory: '512Mi' }, ceilings: { cpu: '2', memory: '4Gi' } },
      podPatch: { spec: { dnsPolicy: 'ClusterFirst' } },
      allowPrivileged: true,
      helperImage: 'helper:1',
      defaultImage: 'base:1',
      helperShell: 'posix',
      workspace: '/workspace',
      runAsUser: 1000,
      runAsGroup: 1000,
      pendingTimeoutSeconds: 60,
      imagePullGraceSeconds: 5,
      dataPath: 'api',
      // keep_failed_steps_for's default (5m): its failed steps' pods are kept for intercept.
      keepFailedSteps: true,
    });
    expect(c.pools[1]!.kubernetes).toMatchObject({
      namespace: 'default',
      kubeconfig: undefined,
      windowsBuild: '10.0.20348',
      windowsToleration: { key: 'os', operator: 'Equal', value: 'windows', effect: 'NoSchedule' },
      helperImage: 'mcr.microsoft.com/windows/nanoserver:ltsc2022',
      defaultImage: 'mcr.microsoft.com/windows/servercore:ltsc2022',
      helperShell: 'cmd',
      workspace: 'C:\\workspace',
      allowPrivileged: false,
      readableSecrets: [],
      pendingTimeoutSeconds: 300,
      imagePullGraceSeconds: 10,
    });
    expect(c.pools[2]!.kubernetes).toMatchObject({ windowsToleration: undefined, workspace: 'D:\\ci' });
    expect(c.pools[3]!.kubernetes).toBeUndefined();
    expect(Object.isFrozen(c.pools[0]!.kubernetes!.tolerations[0])).toBe(true);
  });

  it("reads a pool's registry for images steps built; username and password_file go together", () => {
    const base = `hub:
  address: 127.0.0.1:7777
token_file: token
pools:
  - name: a
    platform: linux
    executor: kubernetes
    kubernetes:
`;
    const c = parseAgentConfig(
      `${base}      registry: { repository: "registry.ci:5000/outpost", username: ci, password_file: registry-password }\n`,
      host,
    );
    expect(c.pools[0]!.kubernetes!.registry).toEqual({
      repository: 'registry.ci:5000/outpost',
      insecure: false,
      username: 'ci',
      passwordFile: '/etc/outpost/registry-password',
      pullSecret: undefined,
    });
    expect(problemsOf(`${base}      registry: { repository: r.ci/x, username: ci }\n`)).toEqual([
      '/etc/outpost/agent.yaml:9:17: pools[0].kubernetes.registry: username and password_file go together',
    ]);
  });

  it('reads the data endpoint: Linux pools then default to data_path agent', () => {
    const c = parseAgentConfig(
      `${k8s.replace('image_pull_grace_seconds: 5', 'image_pull_grace_seconds: 5\n      data_path: api')}
data_endpoint: { listen: 0.0.0.0:7790, advertise: 'http://{hostname}.agents.ci.svc:7790' }
task_cache_max_mb: 5
`,
      host,
    );
    expect(c.dataEndpoint).toEqual({ listen: '0.0.0.0:7790', advertise: 'http://box-1.agents.ci.svc:7790' });
    expect(c.taskCacheMaxBytes).toBe(5 * 1024 * 1024);
    // Windows pools keep the API server; a pool may say so itself.
    expect(c.pools.map((p) => p.kubernetes?.dataPath)).toEqual(['api', 'api', 'api', undefined]);
    const defaulted = parseAgentConfig(
      `${minimal}    executor: kubernetes\ndata_endpoint: { listen: 127.0.0.1:0 }\n`,
      host,
    );
    expect(defaulted.pools[0]!.kubernetes?.dataPath).toBe('agent');
    expect(defaulted.dataEndpoint).toEqual({ listen: '127.0.0.1:0', advertise: undefined });
  });

  it('refuses data_path agent without a data endpoint, on Windows, and an advertise URL that is not http', () => {
    expect(
      problemsOf(`${minimal}    platform: windows
    executor: kubernetes
    kubernetes: { data_path: agent }
`),
    ).toEqual([
      "/etc/outpost/agent.yaml:9:30: pools[0].kubernetes.data_path: agent needs the agent's data_endpoint (listen, advertise)",
      '/etc/outpost/agent.yaml:9:30: pools[0].kubernetes.data_path: a windows pool moves its files through the API server (data_path: api)',
    ]);
    expect(problemsOf(`${minimal}data_endpoint: { listen: 0.0.0.0:1, advertise: 'ftp://x' }\n`)).toEqual([
      '/etc/outpost/agent.yaml:7:48: data_endpoint.advertise: must be an http:// URL step pods can reach ({hostname}: the agent host name)',
    ]);
  });

  it('reports kubernetes problems with positions', () => {
    expect(
      problemsOf(`hub:
  address: 127.0.0.1:7777
token_file: token
pools:
  - name: a
    executor: kubernetes
    kubernetes:
      namespace: Not_A_Namespace
      node_selector: { "bad key!": x }
      resources: { ceilings: { memory: lots } }
      run_as_user: 0
      bogus: 1
  - name: b
    kubernetes: { namespace: ci }
  - name: c
    platform: darwin
    executor: kubernetes
  - name: d
    executor: kubernetes
    kubernetes: { windows_build: "10.0.20348", tolerations: [{ effect: Sometimes }] }
`),
    ).toEqual([
      '/etc/outpost/agent.yaml:8:18: pools[0].kubernetes.namespace: must be a lowercase DNS name',
      '/etc/outpost/agent.yaml:9:36: pools[0].kubernetes.node_selector.bad key!: must be a Kubernetes label key',
      '/etc/outpost/agent.yaml:10:40: pools[0].kubernetes.resources.ceilings.memory: must be a Kubernetes quantity such as "500m", "2", "512Mi"',
      '/etc/outpost/agent.yaml:11:20: pools[0].kubernetes.run_as_user: must be a non-root uid (>= 1)',
      '/etc/outpost/agent.yaml:12:7: pools[0].kubernetes.bogus: unknown field "bogus"',
      '/etc/outpost/agent.yaml:14:17: pools[1].kubernetes: only pools with "executor: kubernetes" take a kubernetes block',
      '/etc/outpost/agent.yaml:16:15: pools[2].platform: a kubernetes pool runs linux or windows nodes',
      '/etc/outpost/agent.yaml:20:34: pools[3].kubernetes.windows_build: only a windows pool has a windows build',
      '/etc/outpost/agent.yaml:20:72: pools[3].kubernetes.tolerations[0].effect: must be one of: NoSchedule, PreferNoSchedule, NoExecute (got "Sometimes")',
    ]);
  });
});

describe('loadAgentConfig', () => {
  it('reads the file and resolves against its directory', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'outpost-config-test-'));
    try {
      const file = path.join(dir, 'agent.yaml');
      await writeFile(file, `${minimal}work_dir: state\nname: t1\n`);
      const c = await loadAgentConfig(file);
      expect(c.tokenFile).toBe(path.join(dir, 'token'));
      expect(c.workDir).toBe(path.join(dir, 'state'));
      expect(c.pools[0]!.capacity).toBe(os.availableParallelism());
      await expect(loadAgentConfig(path.join(dir, 'missing.yaml'))).rejects.toMatchObject({
        code: 'AGENT_CONFIG_INVALID',
        message: expect.stringContaining('missing.yaml: cannot read:') as unknown,
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
