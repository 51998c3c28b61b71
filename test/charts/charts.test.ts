// Chart tests (issue 7): every template of charts/* rendered with each values file in charts/*/ci/ (and
// with the values files and `helm upgrade --install` commands of docs/install.md) by tools/helm-render,
// a small Go renderer with Helm's template semantics (text/template + sprig + include/tpl/toYaml/...).
// Every rendered object is validated against the Kubernetes OpenAPI schema (kubernetes-models).
//
// Needs Go and Debian's sprig (golang-go golang-github-masterminds-sprig-dev golang-github-ghodss-yaml-dev);
// without them the suite is skipped and its name says why. `npm run test:charts` runs only this file.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Ajv } from 'ajv';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { StatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { Role } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import { RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { Pod } from 'kubernetes-models/v1/Pod';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { afterAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { parseAgentConfig } from '../../agent/config.js';
import { DOCUMENTED_RBAC } from '../../agent/executors/kubernetes/rbac.js';
import { agentIdentity } from '../../hub/gateway/session.js';
import { spawnChildHub } from '../support/child-hub.js';
import { requiredMessage, requireAll } from '../support/require-all.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const CHARTS = ['outpost-agent', 'outpost-hub'] as const;
const NAMESPACE = 'outpost';
const TMP = mkdtempSync(path.join(os.tmpdir(), 'outpost-charts-'));
const BIN = path.join(TMP, 'helm-render');

/** Builds the renderer; returns why the suite is skipped, or undefined. */
function buildRenderer(): string | undefined {
  const version = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (version.error)
    return 'no Go toolchain (apt-get install golang-go golang-github-masterminds-sprig-dev golang-github-ghodss-yaml-dev)';
  const built = spawnSync('go', ['build', '-o', BIN, './tools/helm-render'], {
    cwd: ROOT,
    encoding: 'utf8',
    env: {
      ...process.env,
      GO111MODULE: 'off',
      GOPATH: process.env.GOPATH ?? '/usr/share/gocode',
      GOFLAGS: '',
    },
  });
  if (built.status !== 0) {
    const first = built.stderr.trim().split('\n').slice(0, 2).join('; ');
    return `tools/helm-render does not build (${first}); needs golang-github-masterminds-sprig-dev and golang-github-ghodss-yaml-dev`;
  }
  return undefined;
}

const skipReason = buildRenderer();
// Under OUTPOST_REQUIRE_ALL=1 (CI) a missing toolchain fails instead of skipping.
if (skipReason && requireAll) throw new Error(requiredMessage(`chart tests cannot run: ${skipReason}`));
if (skipReason) console.warn(`test/charts: chart tests skipped: ${skipReason}`);
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

type Obj = Record<string, unknown>;
interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [key: string]: unknown;
}

interface RenderOptions {
  /** A YAML file of objects the cluster already holds, for `lookup` (else it finds nothing). */
  existing?: string;
  /** Only NOTES.txt, as `helm install` prints it. */
  notes?: boolean;
}

function render(
  chart: string,
  valueFiles: string[],
  release = chart,
  namespace = NAMESPACE,
  opts: RenderOptions = {},
) {
  const args = ['--name', release, '--namespace', namespace];
  for (const f of valueFiles) args.push('-f', f);
  if (opts.existing) args.push('--existing', opts.existing);
  if (opts.notes) args.push('--notes');
  args.push(path.isAbsolute(chart) ? chart : path.join(ROOT, 'charts', chart));
  const r = spawnSync(BIN, args, { encoding: 'utf8' });
  return { status: r.status, stderr: r.stderr, stdout: r.stdout };
}

function renderObjects(
  chart: string,
  valueFiles: string[],
  release = chart,
  namespace = NAMESPACE,
  opts: RenderOptions = {},
): K8sObject[] {
  const r = render(chart, valueFiles, release, namespace, opts);
  if (r.status !== 0) throw new Error(`rendering ${chart} with ${valueFiles.join(', ')} failed: ${r.stderr}`);
  const docs = parseAllDocuments(r.stdout);
  const objects: K8sObject[] = [];
  for (const doc of docs) {
    if (doc.errors.length > 0)
      throw new Error(`invalid YAML rendered: ${doc.errors.map((e) => e.message).join('; ')}`);
    const value: unknown = doc.toJS();
    if (value !== null && value !== undefined) objects.push(value as K8sObject);
  }
  return objects;
}

// Kinds the charts render, each validated with its OpenAPI model. ServiceMonitor (a CRD) is checked
// by shape below.
const VALIDATORS: Record<string, (o: unknown) => void> = {
  'apps/v1/Deployment': (o) => new Deployment(o as never).validate(),
  'apps/v1/StatefulSet': (o) => new StatefulSet(o as never).validate(),
  'networking.k8s.io/v1/Ingress': (o) => new Ingress(o as never).validate(),
  'networking.k8s.io/v1/NetworkPolicy': (o) => new NetworkPolicy(o as never).validate(),
  'policy/v1/PodDisruptionBudget': (o) => new PodDisruptionBudget(o as never).validate(),
  'rbac.authorization.k8s.io/v1/Role': (o) => new Role(o as never).validate(),
  'rbac.authorization.k8s.io/v1/RoleBinding': (o) => new RoleBinding(o as never).validate(),
  'v1/ConfigMap': (o) => new ConfigMap(o as never).validate(),
  'v1/Namespace': (o) => new Namespace(o as never).validate(),
  'v1/PersistentVolumeClaim': (o) => new PersistentVolumeClaim(o as never).validate(),
  'v1/Pod': (o) => new Pod(o as never).validate(),
  'v1/Secret': (o) => new Secret(o as never).validate(),
  'v1/Service': (o) => new Service(o as never).validate(),
  'v1/ServiceAccount': (o) => new ServiceAccount(o as never).validate(),
  'monitoring.coreos.com/v1/ServiceMonitor': (o) => {
    const spec = (o as { spec?: { selector?: { matchLabels?: unknown }; endpoints?: { port?: unknown }[] } })
      .spec;
    expect(spec?.selector?.matchLabels).toBeTypeOf('object');
    expect(spec?.endpoints?.length).toBeGreaterThan(0);
    for (const e of spec?.endpoints ?? []) expect(e.port).toBeTypeOf('string');
  },
};

function validateAll(objects: K8sObject[]): void {
  expect(objects.length).toBeGreaterThan(0);
  for (const o of objects) {
    const validate = VALIDATORS[`${o.apiVersion}/${o.kind}`];
    if (!validate) throw new Error(`no validator for ${o.apiVersion} ${o.kind} (add it to VALIDATORS)`);
    try {
      validate(o);
    } catch (err) {
      throw new Error(`${o.kind} ${o.metadata.name}: ${(err as Error).message}`, { cause: err });
    }
    if (o.kind !== 'Namespace') expect(o.metadata.namespace, `${o.kind} ${o.metadata.name}`).toBeTruthy();
    expect(o.metadata.labels?.['app.kubernetes.io/managed-by'], `${o.kind} labels`).toBe('Helm');
  }
}

const find = (objects: K8sObject[], kind: string): K8sObject[] => objects.filter((o) => o.kind === kind);
const one = (objects: K8sObject[], kind: string): K8sObject => {
  const all = find(objects, kind);
  expect(all, kind).toHaveLength(1);
  return all[0]!;
};

interface Probe {
  httpGet?: { path?: string; port?: string | number };
}
interface Container {
  name: string;
  image?: string;
  args?: string[];
  env?: { name: string; value?: string }[];
  ports?: { name?: string; containerPort: number }[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
  lifecycle?: { preStop?: { exec?: { command?: string[] } } };
  securityContext?: Obj;
  volumeMounts?: { name: string; mountPath: string }[];
}
interface PodSpec {
  securityContext?: Obj;
  containers: Container[];
  initContainers?: Container[];
  volumes?: ({ name: string } & Obj)[];
  terminationGracePeriodSeconds?: number;
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
}
const podSpec = (workload: K8sObject): PodSpec =>
  (workload.spec as { template: { spec: PodSpec } }).template.spec;

function expectHardened(spec: PodSpec): void {
  const pod = spec.securityContext ?? {};
  expect(pod.seccompProfile).toEqual({ type: 'RuntimeDefault' });
  for (const c of [...spec.containers, ...(spec.initContainers ?? [])]) {
    const sc = c.securityContext ?? {};
    expect(sc.runAsNonRoot ?? pod.runAsNonRoot, `${c.name} runAsNonRoot`).toBe(true);
    expect(sc.runAsUser ?? pod.runAsUser, `${c.name} runAsUser`).toBeGreaterThan(0);
    expect(sc.readOnlyRootFilesystem, `${c.name} readOnlyRootFilesystem`).toBe(true);
    expect(sc.allowPrivilegeEscalation, `${c.name} allowPrivilegeEscalation`).toBe(false);
    expect(sc.privileged ?? false, `${c.name} privileged`).toBe(false);
    expect(
      (sc.capabilities as { drop?: string[] } | undefined)?.drop,
      `${c.name} capabilities.drop`,
    ).toContain('ALL');
    expect((sc.capabilities as { add?: string[] } | undefined)?.add ?? []).toEqual([]);
  }
}

const ciFiles = (chart: string): string[] =>
  readdirSync(path.join(ROOT, 'charts', chart, 'ci'))
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => path.join(ROOT, 'charts', chart, 'ci', f));

const readValues = (file: string): Obj => (parseYaml(readFileSync(file, 'utf8')) ?? {}) as Obj;

/** values.yaml under the given files, as the renderer (and Helm) merge them. */
function mergedValues(chart: string, files: string[]): Obj {
  const merge = (base: Obj, over: Obj): Obj => {
    const out: Obj = { ...base };
    for (const [k, v] of Object.entries(over)) {
      if (v === null) Reflect.deleteProperty(out, k);
      else if (isObj(v) && isObj(out[k])) out[k] = merge(out[k], v);
      else out[k] = v;
    }
    return out;
  };
  return files.reduce(
    (acc, f) => merge(acc, readValues(f)),
    readValues(path.join(ROOT, 'charts', chart, 'values.yaml')),
  );
}
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

// ---- outpost-agent -------------------------------------------------------------------------------

/** Resolves once a TCP connection to host:port is established (and closes it). */
const connects = (host: string, port: number) =>
  new Promise<void>((resolve, reject) => {
    const socket = net.connect({ host, port }, () => {
      socket.destroy();
      resolve();
    });
    socket.once('error', (err) => reject(new Error(`no listener at ${host}:${port}: ${err.message}`)));
  });

/** `HOST:PORT` as a listen flag or config names it: an IPv6 host in brackets. */
const listenAt = (values: Obj, port: number) => {
  const host = values.listenHost as string;
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
};

function checkAgent(objects: K8sObject[], values: Obj): void {
  validateAll(objects);
  expect(find(objects, 'ClusterRole')).toEqual([]);
  expect(find(objects, 'ClusterRoleBinding')).toEqual([]);

  const sts = one(objects, 'StatefulSet');
  const spec = podSpec(sts);
  expectHardened(spec);
  const agent = spec.containers.find((c) => c.name === 'agent')!;

  // The config file reaches the agent, in the agent's own format, with the pools from values.
  const cm = one(objects, 'ConfigMap');
  const text = (cm.data as Record<string, string>)['agent.yaml']!;
  expect(agent.args).toEqual(expect.arrayContaining(['--config', '/etc/outpost/config/agent.yaml']));
  const configVolume = spec.volumes!.find(
    (v) => (v.configMap as { name?: string } | undefined)?.name === cm.metadata.name,
  );
  expect(agent.volumeMounts).toContainEqual(
    expect.objectContaining({ name: configVolume!.name, mountPath: '/etc/outpost/config' }),
  );
  const config = parseAgentConfig(text, {
    file: '/etc/outpost/config/agent.yaml',
    env: {},
    hostname: `${sts.metadata.name}-0`,
    cpus: 2,
    platform: 'linux',
    tmpdir: '/tmp',
  });
  const stepNamespace = (values.stepNamespace as { name: string }).name;
  const pools = values.pools as { name: string; executor?: string; kubernetes?: Obj }[];
  const raw = parseYaml(text) as { pools: Obj[] };
  expect(raw.pools).toEqual(
    pools.map((p) =>
      p.executor === 'kubernetes'
        ? { ...p, kubernetes: { namespace: stepNamespace, ...(p.kubernetes ?? {}) } }
        : p,
    ),
  );
  expect(config.pools.map((p) => p.name)).toEqual(pools.map((p) => p.name));
  expect(config.name).toBe(`${sts.metadata.name}-0`);

  // The data endpoint: each agent advertises its own pod's name through the headless Service.
  const data = values.dataEndpoint as { enabled: boolean; port: number };
  const headless = find(objects, 'Service').find(
    (s) => s.metadata.name === (sts.spec as { serviceName: string }).serviceName,
  )!;
  const dataPort = (headless.spec as { ports: { name: string; port: number }[] }).ports.find(
    (p) => p.name === 'data',
  );
  if (data.enabled) {
    expect(config.dataEndpoint).toEqual({
      listen: listenAt(values, data.port),
      advertise: `http://${sts.metadata.name}-0.${headless.metadata.name}.${NAMESPACE}.svc:${data.port}`,
    });
    expect(dataPort?.port).toBe(data.port);
    expect(agent.ports).toContainEqual({ name: 'data', containerPort: data.port, protocol: 'TCP' });
  } else {
    expect(config.dataEndpoint).toBeUndefined();
    expect(dataPort).toBeUndefined();
  }

  // The token file is the mounted Secret's key.
  const token = values.token as { existingSecret: string; key: string };
  const tokenVolume = spec.volumes!.find((v) => v.name === 'token') as unknown as {
    secret: { secretName: string };
  };
  const tokenMount = agent.volumeMounts!.find((m) => m.name === 'token')!;
  expect(config.tokenFile).toBe(path.posix.join(tokenMount.mountPath, token.key));
  if (token.existingSecret) {
    expect(tokenVolume.secret.secretName).toBe(token.existingSecret);
    expect(find(objects, 'Secret')).toEqual([]);
  } else {
    const secret = one(objects, 'Secret');
    expect(tokenVolume.secret.secretName).toBe(secret.metadata.name);
    expect(Object.keys(secret.data as Obj)).toEqual([token.key]);
  }

  // RBAC: exactly the documented rules, in every namespace a pool's pods run in, bound to the agent.
  const namespaces = new Set(
    config.pools.flatMap((p) =>
      p.kubernetes && p.kubernetes.kubeconfig === undefined ? [p.kubernetes.namespace] : [],
    ),
  );
  const roles = find(objects, 'Role');
  expect(new Set(roles.map((r) => r.metadata.namespace))).toEqual(new Set([stepNamespace, ...namespaces]));
  for (const role of roles) {
    expect(role.rules).toEqual(
      DOCUMENTED_RBAC.map((r) => ({ apiGroups: [''], resources: [...r.resources], verbs: [...r.verbs] })),
    );
    const binding = find(objects, 'RoleBinding').find(
      (b) => b.metadata.namespace === role.metadata.namespace,
    )!;
    expect(binding.roleRef).toEqual({
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'Role',
      name: role.metadata.name,
    });
    expect(binding.subjects).toEqual([
      { kind: 'ServiceAccount', name: spec.serviceAccountName, namespace: NAMESPACE },
    ]);
  }

  // Probes on the metrics port, which is where the config says the agent listens.
  const port = agent.ports!.find((p) => p.name === 'metrics')!;
  expect(config.metrics?.listen).toBe(listenAt(values, port.containerPort));
  for (const probe of [agent.livenessProbe, agent.readinessProbe, agent.startupProbe])
    expect(probe?.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
  const service = one(objects, 'Service');
  expect((service.spec as { ports: unknown[] }).ports[0]).toMatchObject({
    name: 'metrics',
    port: port.containerPort,
    targetPort: 'metrics',
  });
  expect((sts.spec as { serviceName: string }).serviceName).toBe(service.metadata.name);

  // Drain: SIGTERM waits drain_timeout_seconds; the grace period covers it.
  expect(spec.terminationGracePeriodSeconds).toBe(config.drainTimeoutSeconds + 30);
  expect(agent.lifecycle?.preStop?.exec?.command?.join(' ')).toContain('kill -TERM 1');
  expect(one(objects, 'PodDisruptionBudget').spec).toMatchObject({ maxUnavailable: 1 });

  // Identity: the hub knows the agent as CLUSTER/POD-NAME, with the cluster from values.
  expect(config.cluster).toBe(values.cluster);
  // The selector (immutable in Kubernetes) depends on no value but the release's name.
  expect((sts.spec as { selector: unknown }).selector).toEqual({
    matchLabels: {
      'app.kubernetes.io/name': 'outpost-agent',
      'app.kubernetes.io/instance': sts.metadata.labels?.['app.kubernetes.io/instance'],
    },
  });

  // The proxy block in both spellings: grpc-js reads only the lower-case ones.
  const proxy = values.proxy as { http: string; https: string; noProxy: string };
  const env = new Map((agent.env ?? []).map((e) => [e.name, e.value]));
  for (const [name, value] of [
    ['http_proxy', proxy.http],
    ['https_proxy', proxy.https],
    ['no_proxy', proxy.noProxy],
  ] as const) {
    expect(env.get(name), name).toBe(value || undefined);
    expect(env.get(name.toUpperCase()), name.toUpperCase()).toBe(value || undefined);
  }

  // Every mount has its volume; a remote pool's kubeconfig is under one of them.
  const volumeNames = spec.volumes!.map((v) => v.name);
  for (const m of agent.volumeMounts!) expect(volumeNames, m.mountPath).toContain(m.name);
  for (const p of config.pools) {
    const kubeconfig = p.kubernetes?.kubeconfig;
    if (kubeconfig)
      expect(agent.volumeMounts!.map((m) => m.mountPath)).toContain(path.posix.dirname(kubeconfig));
  }

  // Namespaces only when asked for, kept on uninstall; the release's own is never one of them.
  const namespaceObjects = find(objects, 'Namespace');
  if ((values.stepNamespace as { create: boolean }).create) {
    expect(new Set(namespaceObjects.map((n) => n.metadata.name))).toEqual(
      new Set([stepNamespace, ...namespaces].filter((n) => n !== NAMESPACE)),
    );
  } else expect(namespaceObjects).toEqual([]);
  for (const o of [...namespaceObjects, ...roles, ...find(objects, 'RoleBinding')])
    expect(o.metadata.annotations?.['helm.sh/resource-policy'], `${o.kind} ${o.metadata.name}`).toBe('keep');

  // mTLS: the client certificate Secret is mounted where the config's cert_file and key_file point.
  const clientSecret = (values.hub as { tls: { clientCertSecret: string } }).tls.clientCertSecret;
  const clientVolume = spec.volumes!.find((v) => v.name === 'hub-client') as
    { secret: { secretName: string } } | undefined;
  if (clientSecret) {
    expect(clientVolume?.secret.secretName).toBe(clientSecret);
    const mount = agent.volumeMounts!.find((m) => m.name === 'hub-client')!.mountPath;
    expect([config.hub.tls.certFile, config.hub.tls.keyFile]).toEqual([
      path.posix.join(mount, 'tls.crt'),
      path.posix.join(mount, 'tls.key'),
    ]);
  } else expect([clientVolume, config.hub.tls.certFile]).toEqual([undefined, undefined]);

  checkStepNetworkPolicy(objects, values, new Set([stepNamespace, ...namespaces]));

  // `helm test`: a hook pod, as hardened as the agent, from the same image.
  const testPod = one(objects, 'Pod');
  expect(testPod.metadata.annotations?.['helm.sh/hook']).toBe('test');
  const testSpec = testPod.spec as PodSpec;
  expectHardened(testSpec);
  expect(testSpec.containers[0]!.image).toBe(agent.image);
}

/**
 * The step pods' NetworkPolicy (docs/kubernetes.md#network-policy): in every step namespace, selecting
 * step pods only; no ingress but what values open; egress to DNS, this release's agents' data endpoint
 * when enabled (on networkPolicy.agentPorts, else dataEndpoint.port) and exactly the listed rules.
 * None when switched off.
 */
function checkStepNetworkPolicy(objects: K8sObject[], values: Obj, namespaces: Set<string>): void {
  const np = values.networkPolicy as {
    enabled: boolean;
    dns: { to: Obj[] };
    agentPorts: number[];
    egress: Obj[];
    ingress: Obj[];
  };
  const data = values.dataEndpoint as { enabled: boolean; port: number };
  const policies = find(objects, 'NetworkPolicy');
  if (!np.enabled) {
    expect(policies).toEqual([]);
    return;
  }
  expect(new Set(policies.map((p) => p.metadata.namespace))).toEqual(namespaces);
  const sts = one(objects, 'StatefulSet');
  for (const policy of policies) {
    expect(policy.spec).toEqual({
      podSelector: { matchExpressions: [{ key: 'outpost.dev/lease', operator: 'Exists' }] },
      policyTypes: ['Ingress', 'Egress'],
      ingress: np.ingress,
      egress: [
        {
          to: np.dns.to,
          ports: [
            { protocol: 'UDP', port: 53 },
            { protocol: 'TCP', port: 53 },
          ],
        },
        // The agents' data endpoint, on its port unless agentPorts says otherwise; none without one.
        ...(data.enabled
          ? [
              {
                to: [
                  {
                    namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': NAMESPACE } },
                    podSelector: (sts.spec as { selector: unknown }).selector,
                  },
                ],
                ports: (np.agentPorts.length > 0 ? np.agentPorts : [data.port]).map((port) => ({
                  protocol: 'TCP',
                  port,
                })),
              },
            ]
          : []),
        ...np.egress,
      ],
    });
  }
}

// ---- outpost-hub ---------------------------------------------------------------------------------

function checkHub(objects: K8sObject[], values: Obj): void {
  validateAll(objects);
  const deploy = one(objects, 'Deployment');
  // SQLite: one hub. PostgreSQL: `replicas` hubs, the database URL from its Secret (never in the args).
  const database = values.database as {
    type: string;
    postgres: { urlSecret: { name: string; key: string } };
  };
  const postgres = database.type === 'postgres';
  // SQLite: one hub, replaced (never two on one database). PostgreSQL: every replica turns ready, so an
  // upgrade rolls one new pod in before an old one goes, never below `replicas` ready hubs.
  expect(deploy.spec).toMatchObject({
    replicas: postgres ? values.replicas : 1,
    strategy: postgres
      ? { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } }
      : { type: 'Recreate' },
  });
  // Replicas: node drains take at most maxUnavailable hubs at once, selected by the pods' labels.
  const pdbs = objects.filter((o) => o.kind === 'PodDisruptionBudget');
  const budget = values.podDisruptionBudget as { enabled: boolean; maxUnavailable: number };
  if (postgres && (values.replicas as number) > 1 && budget.enabled) {
    expect(pdbs).toHaveLength(1);
    expect(pdbs[0]!.spec).toEqual({
      maxUnavailable: budget.maxUnavailable,
      selector: { matchLabels: (deploy.spec as { selector: { matchLabels: unknown } }).selector.matchLabels },
    });
  } else expect(pdbs).toEqual([]);
  const spec = podSpec(deploy);
  expectHardened(spec);
  expect(spec.automountServiceAccountToken).toBe(false);
  const hub = spec.containers.find((c) => c.name === 'hub')!;
  const args = hub.args!;
  expect(args).toContain('--data-dir=/var/lib/outpost');
  expect(args.join(' ')).not.toContain('postgres');
  const databaseUrl = hub.env?.find((e) => e.name === 'OUTPOST_DATABASE_URL');
  if (postgres)
    expect((databaseUrl as { valueFrom?: unknown }).valueFrom).toEqual({
      secretKeyRef: database.postgres.urlSecret,
    });
  else expect(databaseUrl).toBeUndefined();
  // Replicas: the hub builds its replica URL around the pod's IP (bracketed when IPv6); a URL pasted
  // around `$(POD_IP)` here would be invalid on an IPv6 pod.
  const replicaHost = hub.env?.find((e) => e.name === 'OUTPOST_REPLICA_HOST');
  if (postgres)
    expect((replicaHost as { valueFrom?: unknown }).valueFrom).toEqual({
      fieldRef: { fieldPath: 'status.podIP' },
    });
  else expect(replicaHost).toBeUndefined();
  expect(hub.env?.filter((e) => /\$\(POD_IP\)/.test((e as { value?: string }).value ?? '')) ?? []).toEqual(
    [],
  );
  expect(hub.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'http' });
  expect(hub.startupProbe?.httpGet).toEqual({ path: '/healthz', port: 'http' });
  expect(hub.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'http' });

  // The data directory is the PVC (or an emptyDir when persistence is off).
  const persistence = values.persistence as { enabled: boolean; existingClaim: string };
  const dataMount = hub.volumeMounts!.find((m) => m.mountPath === '/var/lib/outpost')!;
  const dataVolume = spec.volumes!.find((v) => v.name === dataMount.name)!;
  if (persistence.enabled) {
    const claim = (dataVolume.persistentVolumeClaim as { claimName: string }).claimName;
    if (persistence.existingClaim) expect(claim).toBe(persistence.existingClaim);
    else expect(one(objects, 'PersistentVolumeClaim').metadata.name).toBe(claim);
  } else {
    expect(dataVolume.emptyDir).toBeDefined();
    expect(find(objects, 'PersistentVolumeClaim')).toEqual([]);
  }

  // TLS from the Secret, or plaintext only when asked for.
  const tls = values.tls as { secretName: string; insecurePlaintext: boolean };
  if (tls.secretName) {
    const tlsVolume = spec.volumes!.find(
      (v) => (v.secret as { secretName?: string } | undefined)?.secretName === tls.secretName,
    )!;
    const mount = hub.volumeMounts!.find((m) => m.name === tlsVolume.name)!;
    expect(args).toContain(`--tls-cert=${mount.mountPath}/tls.crt`);
    expect(args).toContain(`--tls-key=${mount.mountPath}/tls.key`);
    expect(args).not.toContain('--insecure-plaintext');
  } else {
    expect(tls.insecurePlaintext).toBe(true);
    expect(args).toContain('--insecure-plaintext');
  }

  // The encryption key from its Secret as a file, never an argument or an env value; the old key (rotation)
  // only from a Secret reference.
  const encryption = values.encryption as Record<'keySecret' | 'oldKeySecret', { name: string; key: string }>;
  const keyArg = args.find((a) => a.startsWith('--encryption-key'));
  expect(args.some((a) => a.startsWith('--encryption-key=') || a.startsWith('--old-encryption-key'))).toBe(
    false,
  );
  const oldKeyEnv = (hub.env ?? []).find((e) => e.name === 'OUTPOST_OLD_ENCRYPTION_KEY') as
    { value?: string; valueFrom?: { secretKeyRef: { name: string; key: string } } } | undefined;
  if (encryption.keySecret.name) {
    const keyVolume = spec.volumes!.find(
      (v) => (v.secret as { secretName?: string } | undefined)?.secretName === encryption.keySecret.name,
    )!;
    const mount = hub.volumeMounts!.find((m) => m.name === keyVolume.name)!;
    expect(keyArg).toBe(`--encryption-key-file=${mount.mountPath}/${encryption.keySecret.key}`);
  } else expect(keyArg).toBeUndefined();
  expect(oldKeyEnv).toEqual(
    encryption.oldKeySecret.name
      ? { name: 'OUTPOST_OLD_ENCRYPTION_KEY', valueFrom: { secretKeyRef: encryption.oldKeySecret } }
      : undefined,
  );

  // Services: HTTP and gRPC to the container's ports.
  const ports: Record<string, number> = Object.fromEntries(
    hub.ports!.map((p) => [p.name ?? '', p.containerPort] as const),
  );
  expect(args).toContain(`--http-listen=${listenAt(values, ports.http!)}`);
  expect(args).toContain(`--grpc-listen=${listenAt(values, ports.grpc!)}`);
  const services = find(objects, 'Service');
  expect(
    services.map((s) => (s.spec as { ports: { targetPort: string }[] }).ports[0]!.targetPort).sort(),
  ).toEqual(['grpc', 'http']);

  // The gRPC Ingress carries ingress-nginx's gRPC annotations.
  const grpcIngress = find(objects, 'Ingress').find((i) => i.metadata.name.endsWith('-grpc'));
  if (grpcIngress) {
    expect(grpcIngress.metadata.annotations?.['nginx.ingress.kubernetes.io/backend-protocol']).toBe(
      tls.secretName ? 'GRPCS' : 'GRPC',
    );
    expect(grpcIngress.metadata.annotations?.['nginx.ingress.kubernetes.io/proxy-body-size']).toBe('0');
  }

  // The selector (immutable in Kubernetes) depends on no value but the release's name.
  expect((deploy.spec as { selector: unknown }).selector).toEqual({
    matchLabels: {
      'app.kubernetes.io/name': 'outpost-hub',
      'app.kubernetes.io/instance': deploy.metadata.labels?.['app.kubernetes.io/instance'],
    },
  });
  const volumeNames = spec.volumes!.map((v) => v.name);
  for (const m of hub.volumeMounts!) expect(volumeNames, m.mountPath).toContain(m.name);

  // `helm test`: a hook pod, as hardened as the hub, from the same image, asking the HTTP Service.
  const testPod = one(objects, 'Pod');
  expect(testPod.metadata.annotations?.['helm.sh/hook']).toBe('test');
  const testSpec = testPod.spec as PodSpec;
  expectHardened(testSpec);
  const test = testSpec.containers[0]!;
  expect(test.image).toBe(hub.image);
  const httpService = services.find((s) => s.metadata.name.endsWith('-http'))!;
  const httpPort = (httpService.spec as { ports: { port: number }[] }).ports[0]!.port;
  expect(test.args).toContain(`http://${httpService.metadata.name}.${NAMESPACE}.svc:${httpPort}/readyz`);
}

const CHECKS = { 'outpost-agent': checkAgent, 'outpost-hub': checkHub } as const;

describe.skipIf(skipReason !== undefined)(`charts${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  for (const chart of CHARTS) {
    describe(chart, () => {
      it('Chart.yaml has the fields helm lint wants', () => {
        const meta = readValues(path.join(ROOT, 'charts', chart, 'Chart.yaml'));
        expect(meta).toMatchObject({ apiVersion: 'v2', name: chart, type: 'application' });
        expect(meta.version).toMatch(/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/);
        expect(meta.appVersion).toBeTypeOf('string');
        expect(meta.description).toBeTypeOf('string');
        const templates = readdirSync(path.join(ROOT, 'charts', chart, 'templates'), { recursive: true });
        for (const f of templates.map(String).filter((f) => f.includes('.')))
          expect(f, 'template extension').toMatch(/\.(yaml|tpl|txt)$/);
        expect(templates, 'NOTES.txt').toContain('NOTES.txt');
      });

      it('values.schema.json accepts the defaults and every ci/ file, and rejects bad values', () => {
        const schema = JSON.parse(
          readFileSync(path.join(ROOT, 'charts', chart, 'values.schema.json'), 'utf8'),
        ) as Obj;
        const validate = new Ajv({ strict: false, allErrors: true }).compile(schema);
        expect(validate(mergedValues(chart, [])), JSON.stringify(validate.errors)).toBe(true);
        for (const f of ciFiles(chart))
          expect(validate(mergedValues(chart, [f])), `${f}: ${JSON.stringify(validate.errors)}`).toBe(true);
        const bad =
          chart === 'outpost-agent'
            ? [
                { pools: [{ name: 'linux', executor: 'docker' }] },
                { drainTimeoutSeconds: -1 },
                { pools: [] },
                { hub: { adress: 'x:1' } },
                { cluster: 'eu 1' },
                { cluster: 'eu/1' },
                { proxy: { https: 'https://proxy.internal:3128' } },
                { image: { digest: 'latest' } },
                { networkPolicy: { egress: [{ too: [] }] } },
                { networkPolicy: { agentPorts: [0] } },
                { listenHost: '[::]' },
              ]
            : [
                { database: { type: 'mysql' } },
                { replicas: 0 },
                { persistence: { size: 'ten gigs' } },
                { leaseGrace: '2 minutes' },
                { listenHost: 'everywhere' },
                { listenHost: '' },
                // The key itself is never a value: only the Secret that holds it.
                { encryption: { key: 'k'.repeat(32) } },
              ];
        // A parent chart's globals reach a subchart's values.
        const withGlobal = path.join(TMP, `${chart}-global.yaml`);
        writeFileSync(
          withGlobal,
          JSON.stringify({ global: { imageRegistry: 'mirror.internal', storageClass: 'x' } }),
        );
        expect(validate(mergedValues(chart, [withGlobal])), JSON.stringify(validate.errors)).toBe(true);
        for (const b of bad) {
          const file = path.join(TMP, `${chart}-bad.yaml`);
          writeFileSync(file, JSON.stringify(b));
          expect(validate(mergedValues(chart, [file])), JSON.stringify(b)).toBe(false);
        }
      });

      for (const file of ciFiles(chart)) {
        it(`renders valid objects with ci/${path.basename(file)}`, () => {
          CHECKS[chart](renderObjects(chart, [file]), mergedValues(chart, [file]));
        });
      }
    });
  }

  it("outpost-hub's default listen flags reach the hub over IPv4 and IPv6 (dual-stack sockets)", async () => {
    const deploy = one(
      renderObjects('outpost-hub', [path.join(ROOT, 'charts/outpost-hub/ci/default-values.yaml')]),
      'Deployment',
    );
    const args = podSpec(deploy).containers[0]!.args!;
    // The chart's own flags, on ports the system picks.
    const listen = args
      .filter((a) => a.startsWith('--http-listen=') || a.startsWith('--grpc-listen='))
      .map((a) => a.replace(/:\d+$/, ':0'));
    expect(listen).toEqual(['--http-listen=[::]:0', '--grpc-listen=[::]:0']);
    const dir = mkdtempSync(path.join(TMP, 'dual-stack-hub-'));
    const hub = await spawnChildHub(dir, { args: listen });
    try {
      const port = new URL(hub.url).port;
      for (const host of ['127.0.0.1', '[::1]']) {
        const res = await fetch(`http://${host}:${port}/healthz`);
        expect(res.status, `HTTP on ${host}`).toBe(200);
        await connects(host.replace(/^\[|\]$/g, ''), hub.grpcPort);
      }
    } finally {
      hub.child.kill('SIGTERM');
      await hub.exited;
    }
  });

  it('outpost-agent without hub.address or a token fails with a message', () => {
    const r = render('outpost-agent', []);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('hub.address is required');
    const file = path.join(TMP, 'agent-no-token.yaml');
    writeFileSync(file, 'hub: { address: "ci.example.com:7777" }\ncluster: eu-1\n');
    expect(render('outpost-agent', [file]).stderr).toContain(
      'token.value or token.existingSecret is required',
    );
  });

  const valuesFile = (name: string, values: Obj): string => {
    const file = path.join(TMP, name);
    writeFileSync(file, JSON.stringify(values));
    return file;
  };
  const agentValues = (cluster: string) =>
    valuesFile(`agent-${cluster}.yaml`, {
      hub: { address: 'ci.example.com:7777' },
      token: { value: 'test-agent-token' },
      cluster,
    });
  const agentConfigOf = (objects: K8sObject[], pod: string) =>
    parseAgentConfig((one(objects, 'ConfigMap').data as Record<string, string>)['agent.yaml']!, {
      file: '/etc/outpost/config/agent.yaml',
      env: {},
      hostname: pod,
      cpus: 2,
      platform: 'linux',
      tmpdir: '/tmp',
    });

  it('outpost-agent without a cluster fails with a message', () => {
    const file = valuesFile('agent-no-cluster.yaml', {
      hub: { address: 'ci.example.com:7777' },
      token: { value: 'x' },
    });
    const r = render('outpost-agent', [file]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('cluster is required');
  });

  it('outpost-agent: two clusters with the same values and release name give distinct agents at the hub', () => {
    const identities = ['eu-1', 'us-1'].map((cluster) => {
      const objects = renderObjects('outpost-agent', [agentValues(cluster)], 'outpost-agent');
      const sts = one(objects, 'StatefulSet');
      const replicas = (sts.spec as { replicas: number }).replicas;
      // Each pod is an agent named after itself (the config leaves `name` out), in the values' cluster.
      return Array.from({ length: replicas }, (_, i) => {
        const pod = `${sts.metadata.name}-${i}`;
        const config = agentConfigOf(objects, pod);
        expect(config.name).toBe(pod);
        return agentIdentity(config.cluster, config.name);
      });
    });
    expect(identities).toEqual([['eu-1/outpost-agent-0'], ['us-1/outpost-agent-0']]);
  });

  it('outpost-agent adopts a step namespace that exists and never claims one of another owner', () => {
    const values = valuesFile('agent-create-ns.yaml', {
      hub: { address: 'ci.example.com:7777' },
      token: { value: 'x' },
      cluster: 'eu-1',
      stepNamespace: { name: 'ci', create: true },
    });
    const namespaces = (existing?: Obj) => {
      const opts = existing ? { existing: valuesFile('existing.yaml', existing) } : {};
      return find(
        renderObjects('outpost-agent', [values], 'outpost-agent', NAMESPACE, opts),
        'Namespace',
      ).map((n) => n.metadata.name);
    };
    const namespace = (annotations: Record<string, string>) => ({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'ci', annotations },
    });
    expect(namespaces()).toEqual(['ci']);
    // Made by kubectl, or by another release: used, not rendered (Helm would refuse to take it over).
    expect(namespaces(namespace({}))).toEqual([]);
    expect(
      namespaces(
        namespace({ 'meta.helm.sh/release-name': 'agent-eu-1', 'meta.helm.sh/release-namespace': NAMESPACE }),
      ),
    ).toEqual([]);
    // This release's own: still rendered, or the upgrade would drop it from the release.
    expect(
      namespaces(
        namespace({
          'meta.helm.sh/release-name': 'outpost-agent',
          'meta.helm.sh/release-namespace': NAMESPACE,
        }),
      ),
    ).toEqual(['ci']);
  });

  it('outpost-agent rolls the agents when an existing token Secret changes', () => {
    const values = valuesFile('agent-existing-token.yaml', {
      hub: { address: 'ci.example.com:7777' },
      token: { existingSecret: 'outpost-agent-token' },
      cluster: 'eu-1',
    });
    const checksum = (token: string) => {
      const existing = valuesFile('existing-token.yaml', {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'outpost-agent-token', namespace: NAMESPACE },
        data: { token: Buffer.from(token).toString('base64') },
      });
      const sts = one(
        renderObjects('outpost-agent', [values], 'outpost-agent', NAMESPACE, { existing }),
        'StatefulSet',
      );
      return (sts.spec as { template: { metadata: { annotations: Record<string, string> } } }).template
        .metadata.annotations['checksum/token'];
    };
    expect(checksum('one')).not.toBe(checksum('two'));
    expect(checksum('one')).toBe(checksum('one'));
  });

  it('name overrides never change a selector (immutable in an upgrade)', () => {
    for (const chart of CHARTS) {
      const base = chart === 'outpost-agent' ? agentValues('eu-1') : ciFiles(chart)[0]!;
      const selectors = [{}, { nameOverride: 'ci' }, { fullnameOverride: 'renamed' }].map((o) => {
        const objects = renderObjects(chart, [base, valuesFile(`${chart}-names.yaml`, o)], 'ci');
        const workload = objects.find((x) => x.kind === 'StatefulSet' || x.kind === 'Deployment')!;
        return (workload.spec as { selector: unknown }).selector;
      });
      expect(selectors[1], chart).toEqual(selectors[0]);
      expect(selectors[2], chart).toEqual(selectors[0]);
    }
  });

  it('NOTES.txt renders with every ci/ file and names what the install made', () => {
    for (const chart of CHARTS) {
      for (const file of ciFiles(chart)) {
        const r = render(chart, [file], chart, NAMESPACE, { notes: true });
        expect(r.status, `${file}: ${r.stderr}`).toBe(0);
        expect(r.stdout).toContain(`helm test ${chart} -n ${NAMESPACE}`);
        if (chart === 'outpost-agent') {
          const values = mergedValues(chart, [file]);
          expect(r.stdout).toContain(`${values.cluster as string}/outpost-agent-0`);
          // The token to create allows these agents, their pools and their summed capacity, no more.
          const pools = values.pools as { name: string; capacity: number }[];
          const capacity = pools.reduce((sum, p) => sum + p.capacity, 0);
          expect(r.stdout).toContain(
            `--agent-prefix ${values.cluster as string}/outpost-agent- --pools ${[...new Set(pools.map((p) => p.name))].join(',')} `,
          );
          expect(r.stdout).toContain(`--max-capacity ${capacity}\n`);
          const replicas = values.replicaCount as number;
          const drain = values.drainTimeoutSeconds as number;
          expect(r.stdout).toContain(`--timeout ${replicas * (drain + 90)}s`);
        }
      }
    }
  });

  it('outpost-hub replicas need PostgreSQL, its URL Secret and a shared volume', () => {
    const failure = (values: Obj) => {
      const file = path.join(TMP, 'hub-replicas.yaml');
      writeFileSync(file, JSON.stringify({ tls: { secretName: 'x' }, ...values }));
      return render('outpost-hub', [file]).stderr;
    };
    expect(failure({ replicas: 2 })).toContain('replicas > 1 needs database.type=postgres');
    expect(failure({ database: { type: 'postgres' } })).toContain(
      'database.type=postgres needs database.postgres.urlSecret.name',
    );
    expect(
      failure({ replicas: 2, database: { type: 'postgres', postgres: { urlSecret: { name: 'db' } } } }),
    ).toContain('set persistence.accessMode=ReadWriteMany');
  });

  it('outpost-agent renders no NetworkPolicy when networkPolicy.enabled is false', () => {
    const file = path.join(TMP, 'agent-no-netpol.yaml');
    writeFileSync(
      file,
      JSON.stringify({
        hub: { address: 'hub:7777' },
        token: { value: 't' },
        cluster: 'c',
        networkPolicy: { enabled: false },
      }),
    );
    const objects = renderObjects('outpost-agent', [file]);
    checkAgent(objects, mergedValues('outpost-agent', [file]));
    expect(find(objects, 'NetworkPolicy')).toEqual([]);
  });

  it('outpost-hub: rotating the encryption key needs the new key too', () => {
    const file = path.join(TMP, 'hub-old-key.yaml');
    writeFileSync(
      file,
      JSON.stringify({ tls: { secretName: 'x' }, encryption: { oldKeySecret: { name: 'old' } } }),
    );
    expect(render('outpost-hub', [file]).stderr).toContain(
      'encryption.oldKeySecret needs encryption.keySecret (the new key to re-encrypt under)',
    );
  });

  it('outpost-hub without TLS fails unless plaintext is asked for', () => {
    const r = render('outpost-hub', []);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('tls.secretName is required');
  });

  // docs/install.md: its values files (a ```yaml block after `<!-- file: NAME -->`) and every
  // `helm upgrade --install` line in it render, and pass the same checks.
  describe('docs/install.md', () => {
    const doc = existsSync(path.join(ROOT, 'docs/install.md'))
      ? readFileSync(path.join(ROOT, 'docs/install.md'), 'utf8')
      : '';
    const files = new Map<string, string>();
    for (const m of doc.matchAll(/<!-- file: (\S+) -->\s*```yaml\n([\s\S]*?)```/g)) files.set(m[1]!, m[2]!);

    interface DocCommand {
      text: string;
      release: string;
      chart: (typeof CHARTS)[number];
      namespace: string;
      valueFiles: string[];
      /** --timeout in seconds, when given. */
      timeoutSeconds?: number;
      /** The kubectl context of the last `kubectl config use-context` before it (undefined: any). */
      context?: string;
    }

    /** The doc's `helm upgrade --install` lines in order, each with the context it runs in. */
    function docCommands(): DocCommand[] {
      const out: DocCommand[] = [];
      let context: string | undefined;
      for (const line of doc.split('\n')) {
        const use = /^kubectl config use-context (\S+)$/.exec(line);
        if (use) context = use[1];
        const helm = /^helm upgrade --install (.+)$/.exec(line);
        if (helm) out.push({ ...parseCommand(helm[1]!.trim()), context });
      }
      return out;
    }

    function parseCommand(text: string): Omit<DocCommand, 'context'> {
      const words = text.split(/\s+/);
      const [release, chartPath] = words;
      let namespace = 'default';
      let timeoutSeconds: number | undefined;
      const valueFiles: string[] = [];
      for (let i = 2; i < words.length; i++) {
        const w = words[i]!;
        if (w === '-n' || w === '--namespace') namespace = words[++i]!;
        else if (w === '-f' || w === '--values') {
          const name = words[++i]!;
          const body = files.get(name);
          if (body === undefined) throw new Error(`docs/install.md has no <!-- file: ${name} --> block`);
          const out = path.join(TMP, `doc-${name}`);
          writeFileSync(out, body);
          valueFiles.push(out);
        } else if (w === '--timeout') {
          const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(words[++i]!)!;
          timeoutSeconds = Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
        } else if (w === '--create-namespace' || w === '--wait') continue;
        else throw new Error(`unexpected word in docs/install.md: ${w}`);
      }
      const chart = path.basename(chartPath!) as (typeof CHARTS)[number];
      expect(chartPath).toBe(`charts/${chart}`);
      expect(CHARTS).toContain(chart);
      return { text, release: release!, chart, namespace, valueFiles, timeoutSeconds };
    }

    const commands = docCommands();

    it('has helm commands', () => {
      expect(commands.length).toBeGreaterThan(0);
    });

    for (const command of commands) {
      it(`renders: helm upgrade --install ${command.text}`, () => {
        const { chart, valueFiles, release, namespace } = command;
        const objects = renderObjects(path.join(ROOT, 'charts', chart), valueFiles, release, namespace);
        // The checks assume the release namespace is NAMESPACE; the docs install into it too.
        expect(namespace).toBe(NAMESPACE);
        const values = mergedValues(chart, valueFiles);
        CHECKS[chart](objects, values);
        // An agent upgrade that waits must outlast the drains: one agent at a time.
        if (chart === 'outpost-agent' && command.timeoutSeconds !== undefined)
          expect(command.timeoutSeconds).toBeGreaterThanOrEqual(
            (values.replicaCount as number) * ((values.drainTimeoutSeconds as number) + 90),
          );
      });
    }

    // Followed in order, each release sees what the earlier ones made in its cluster (lookup; a command
    // with no `kubectl config use-context` before it may run in any cluster), and no object is claimed
    // by two releases: Helm would refuse the second install. Claims are compared across all clusters,
    // as if they were one (the hub may share a cluster with agents): stricter than needed.
    it('followed in order, claims no object for two releases', () => {
      const made: { context?: string; release: string; object: K8sObject }[] = [];
      const sameCluster = (a?: string, b?: string) => a === undefined || b === undefined || a === b;
      const key = (o: K8sObject) => `${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`;
      for (const [i, command] of commands.entries()) {
        const visible = made.filter((m) => sameCluster(m.context, command.context)).map((m) => m.object);
        const existing = path.join(TMP, `doc-existing-${i}.yaml`);
        writeFileSync(existing, visible.map((o) => JSON.stringify(o)).join('\n---\n'));
        const objects = renderObjects(
          path.join(ROOT, 'charts', command.chart),
          command.valueFiles,
          command.release,
          command.namespace,
          { existing },
        ).filter((o) => o.metadata.annotations?.['helm.sh/hook'] === undefined);
        for (const object of objects) {
          for (const m of made) {
            if (key(m.object) !== key(object)) continue;
            expect(m.release, `${key(object)}: ${command.text}`).toBe(command.release);
          }
          // As Helm records its owner on each object it installs.
          object.metadata.annotations = {
            ...object.metadata.annotations,
            'meta.helm.sh/release-name': command.release,
            'meta.helm.sh/release-namespace': command.namespace,
          };
          made.push({ context: command.context, release: command.release, object });
        }
      }
      expect(made.length).toBeGreaterThan(0);
    });
  });
});
