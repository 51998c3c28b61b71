// startFakeKube(): a fake Kubernetes API server (core/v1 subset) with a scheduler and a kubelet that
// runs containers as local processes. Tests drive it only through @kubernetes/client-node. See README.md.
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import type { ResourceQuota } from './admission.js';
import { Autoscaler } from './autoscaler.js';
import { EventRecorder } from './events.js';
import { Kubelet, type ImageConfig, type KubeletTiming } from './kubelet.js';
import { Authorizer, type Permission, type RbacRule } from './rbac.js';
import { Resources } from './resources.js';
import { detectIsolation, type Isolation } from './runtime.js';
import { Scheduler, type Taint } from './scheduler.js';
import { ApiServer, type Fault } from './server.js';
import { Store, type KObject } from './store.js';
import { serverTls } from './tls.js';

export type { Fault, ResourceQuota };
export type { ImageConfig, KubeletTiming, Permission, RbacRule, Taint, KObject, Isolation };

export interface FakeNode {
  name: string;
  /** kubernetes.io/hostname, kubernetes.io/os=linux and kubernetes.io/arch=amd64 are added unless given. */
  labels?: Record<string, string>;
  taints?: Taint[];
  /** Allocatable resources; defaults cpu "4", memory "8Gi", pods "110". */
  allocatable?: { cpu?: string; memory?: string; pods?: string; [resource: string]: string | undefined };
  unschedulable?: boolean;
}

export interface FakeKubeOptions {
  /** Default: one Linux node "node-1". */
  nodes?: FakeNode[];
  /** Namespaces that exist (creating objects elsewhere is 404, as on a real cluster). Default ["default"]. */
  namespaces?: string[];
  /** Labels of those namespaces, e.g. { ci: { 'pod-security.kubernetes.io/enforce': 'restricted' } }. */
  namespaceLabels?: Record<string, Record<string, string>>;
  /** ResourceQuotas: pods must then specify every requests./limits. resource a quota names (admission.ts). */
  resourceQuotas?: ResourceQuota[];
  /** The bearer token clients must send. Default: random. */
  token?: string;
  /** The user named in 403 messages. Default "system:serviceaccount:default:outpost-agent". */
  user?: string;
  /** An allow list; anything else is 403 Forbidden. Omitted: everything is allowed. */
  rbac?: RbacRule[];
  /** ENTRYPOINT/CMD of images, for containers that give no command (else CreateContainerError). */
  images?: Record<string, ImageConfig>;
  /** "auto" (default, or $FAKE_KUBE_ISOLATION): chroot when root and mount namespaces work, else "none". See README.md. */
  isolation?: 'auto' | Isolation;
  /** Kubelet delays; defaults are short so tests are fast. */
  timing?: Partial<KubeletTiming>;
  /**
   * A cluster autoscaler: once a pod is Unschedulable, the next of `nodes` joins `delayMs` later
   * (autoscaler.ts). Omitted: the cluster never grows.
   */
  autoscaler?: { nodes: FakeNode[]; delayMs: number };
  /**
   * The kubelet's containerLogMaxSize: a container's log file rotates once it holds this many bytes (CRI
   * format), and a new pods/log request reads only the current file. Default 10 MiB, as the kubelet's.
   */
  logRotateBytes?: number;
  /**
   * Loopback registries (host:port, plain HTTP) the kubelet really pulls from: an image on one of them
   * runs only if the registry has its manifest, asked with the pod's imagePullSecrets, else
   * ErrImagePull/ImagePullBackOff with containerd's words (registry-pull.ts). Default: none.
   */
  registries?: string[];
}

export interface FakeKube {
  /** https://127.0.0.1:PORT */
  url: string;
  token: string;
  /** PEM of the self-signed certificate (also the CA in the kubeconfig). */
  caPem: string;
  /** How containers see their volumes: "chroot" (real paths) or "none" ($FAKE_KUBE_ROOT prefix). */
  isolation: Isolation;
  /** A fresh KubeConfig (current context "fake", namespace = first namespace) with CA + bearer token. */
  kubeConfig(): KubeConfig;
  kubeconfigYaml(): string;
  nodes(): KObject[];
  pods(namespace?: string): KObject[];
  /** Every pod created so far, as the API server stored it at creation, deleted ones included. */
  createdPods(namespace?: string): KObject[];
  events(namespace?: string): KObject[];
  secrets(namespace?: string): KObject[];
  addNode(node: FakeNode): void;
  /** Cordon (false) / uncordon (true), like `kubectl cordon`: spec.unschedulable. */
  setNodeSchedulable(name: string, schedulable: boolean): void;
  setNodeTaints(name: string, taints: Taint[]): void;
  /** Every pull of `image` fails with `message` (ErrImagePull, then ImagePullBackOff) until allowed. */
  failImagePull(image: string, message: string): void;
  allowImagePull(image: string): void;
  /**
   * Every pods/log follow of the container open now goes silent, as a half-open connection does: no
   * more lines, no end, until the client closes it. Returns how many were open.
   */
  silenceLogFollows(podName: string, opts?: { namespace?: string; container?: string }): number;
  /** Kills a running container as the kernel OOM killer would: exit 137, reason OOMKilled. */
  oomKill(podName: string, opts?: { namespace?: string; container?: string }): void;
  /** Kubelet eviction: containers killed, phase Failed, reason Evicted, `message`. Resolves when done. */
  evict(podName: string, message: string, opts?: { namespace?: string }): Promise<void>;
  /** Deletes a pod bypassing authentication/RBAC (an admin, a node drain), with the API's grace rules. */
  deletePodAsSomeoneElse(namespace: string, name: string, gracePeriodSeconds?: number): void;
  /** PIDs of the pod's running container processes (each is a process group leader). */
  containerPids(namespace: string, name: string): number[];
  /** Every (verb, resource, namespace) requested so far, allowed or not: proves an RBAC list minimal. */
  permissionsUsed(): Permission[];
  /**
   * The next `count` matching requests fail (429/500/503/reset, see server.ts Fault) instead of being
   * served, or (`cut`) an exec/attach websocket drops after `afterBytes` of stream data.
   */
  injectFault(fault: Fault): void;
  /** How many requests got an injected fault so far. */
  faultsServed(): number;
  /** How many requests (websocket upgrades included) reached the API server so far. */
  requestsServed(): number;
  /** Bytes both ways through exec/attach websockets closed so far (TLS records: a little over the data). */
  streamedBytes(): number;
  /** Server-side close of every open watch (client-node's Watch calls done(null); informers re-watch). */
  closeWatches(): void;
  /** Compacts the watch history: watches resuming from an older resourceVersion get 410 Expired. */
  compactHistory(): void;
  close(): Promise<void>;
}

function nodeObject(n: FakeNode): KObject {
  const labels = {
    'kubernetes.io/hostname': n.name,
    'kubernetes.io/os': 'linux',
    'kubernetes.io/arch': 'amd64',
    ...n.labels,
  };
  const allocatable = {
    cpu: '4',
    memory: '8Gi',
    pods: '110',
    'ephemeral-storage': '100Gi',
    ...n.allocatable,
  };
  return {
    metadata: { name: n.name, labels },
    spec: {
      ...(n.taints?.length ? { taints: n.taints } : {}),
      ...(n.unschedulable ? { unschedulable: true } : {}),
    },
    status: {
      capacity: allocatable,
      allocatable,
      conditions: [
        { type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status' },
      ],
      nodeInfo: {
        operatingSystem: labels['kubernetes.io/os'],
        architecture: labels['kubernetes.io/arch'],
        kubeletVersion: 'v1.35.0-fake',
      },
    },
  };
}

export async function startFakeKube(opts: FakeKubeOptions = {}): Promise<FakeKube> {
  const store = new Store();
  const namespaces = opts.namespaces ?? ['default'];
  for (const ns of namespaces)
    store.create('namespaces', {
      metadata: { name: ns, ...(opts.namespaceLabels?.[ns] ? { labels: opts.namespaceLabels[ns] } : {}) },
      spec: { finalizers: ['kubernetes'] },
      status: { phase: 'Active' },
    });
  for (const n of opts.nodes ?? [{ name: 'node-1' }]) store.create('nodes', nodeObject(n));
  const events = new EventRecorder(store);
  const resources = new Resources(store, opts.resourceQuotas);
  new Scheduler(store, events);
  const autoscaler = new Autoscaler(store, opts.autoscaler?.nodes ?? [], opts.autoscaler?.delayMs ?? 0, (n) =>
    store.create('nodes', nodeObject(n)),
  );
  const requested =
    opts.isolation ?? (process.env.FAKE_KUBE_ISOLATION as FakeKubeOptions['isolation']) ?? 'auto';
  const isolation = requested === 'auto' ? detectIsolation() : requested;
  const imagePullFailures = new Map<string, string>();
  const created: KObject[] = [];
  store.onChange((c) => {
    if (c.resource === 'pods' && c.type === 'ADDED') created.push(c.object);
  });
  const kubelet = new Kubelet({
    store,
    events,
    isolation,
    workDir: mkdtempSync(path.join(os.tmpdir(), 'fake-kube-')),
    timing: { imagePullBackoffMs: 300, retryMs: 300, crashLoopBackoffMs: 500, ...opts.timing },
    images: opts.images ?? {},
    imagePullFailures,
    registries: opts.registries ?? [],
    logRotateBytes: opts.logRotateBytes ?? 10 * 1024 * 1024,
  });
  const token = opts.token ?? randomBytes(24).toString('hex');
  const authorizer = new Authorizer(opts.rbac, opts.user ?? 'system:serviceaccount:default:outpost-agent');
  const tls = serverTls();
  const api = new ApiServer({ store, resources, kubelet, authorizer, token, tls });
  await new Promise<void>((resolve) => api.server.listen(0, '127.0.0.1', resolve));
  const url = `https://127.0.0.1:${(api.server.address() as AddressInfo).port}`;
  const caData = Buffer.from(tls.certPem).toString('base64');

  const findPod = (name: string, namespace?: string): KObject => {
    const matches = store.list('pods', namespace).filter((p) => p.metadata.name === name);
    if (matches.length !== 1)
      throw new Error(
        `fake-kube: ${matches.length} pods named ${name}${namespace ? ` in ${namespace}` : ''}`,
      );
    return matches[0]!;
  };
  const workerOf = (name: string, namespace?: string) => {
    const pod = findPod(name, namespace);
    const w = kubelet.worker(pod.metadata.namespace!, name);
    if (!w) throw new Error(`fake-kube: pod ${name} is not running on a node`);
    return w;
  };

  return {
    url,
    token,
    caPem: tls.certPem,
    isolation,
    kubeConfig() {
      const kc = new KubeConfig();
      kc.loadFromOptions({
        clusters: [{ name: 'fake', server: url, caData, skipTLSVerify: false }],
        users: [{ name: 'fake-user', token }],
        contexts: [{ name: 'fake', cluster: 'fake', user: 'fake-user', namespace: namespaces[0] }],
        currentContext: 'fake',
      });
      return kc;
    },
    kubeconfigYaml() {
      return [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        '- name: fake',
        '  cluster:',
        `    server: ${url}`,
        `    certificate-authority-data: ${caData}`,
        'users:',
        '- name: fake-user',
        '  user:',
        `    token: ${token}`,
        'contexts:',
        '- name: fake',
        '  context:',
        '    cluster: fake',
        '    user: fake-user',
        `    namespace: ${namespaces[0] ?? 'default'}`,
        'current-context: fake',
        '',
      ].join('\n');
    },
    nodes: () => store.list('nodes'),
    pods: (namespace) => store.list('pods', namespace),
    createdPods: (namespace) =>
      created.filter((p) => namespace === undefined || p.metadata.namespace === namespace),
    events: (namespace) => store.list('events', namespace),
    secrets: (namespace) => store.list('secrets', namespace),
    addNode: (node) => {
      store.create('nodes', nodeObject(node));
    },
    setNodeSchedulable(name, schedulable) {
      store.update('nodes', undefined, name, (n) => {
        const spec = (n.spec ??= {}) as { unschedulable?: boolean };
        if (schedulable) delete spec.unschedulable;
        else spec.unschedulable = true;
      });
    },
    setNodeTaints(name, taints) {
      store.update('nodes', undefined, name, (n) => {
        (n.spec as { taints?: Taint[] }).taints = taints;
      });
    },
    failImagePull: (image, message) => imagePullFailures.set(image, message),
    allowImagePull: (image) => imagePullFailures.delete(image),
    silenceLogFollows: (podName, o) =>
      kubelet.logSource(findPod(podName, o?.namespace), o?.container ?? 'step', false).silenceFollowers(),
    oomKill: (podName, o) => workerOf(podName, o?.namespace).oomKill(o?.container),
    evict: (podName, message, o) => kubelet.evict(workerOf(podName, o?.namespace), message),
    deletePodAsSomeoneElse: (namespace, name, grace) => {
      resources.deletePod(namespace, name, grace);
    },
    containerPids(namespace, name) {
      const w = kubelet.worker(namespace, name);
      return w ? [...w.containers.values()].flatMap((c) => (c.proc?.pid ? [c.proc.pid] : [])) : [];
    },
    permissionsUsed: () => authorizer.permissionsUsed(),
    injectFault: (fault) => api.injectFault(fault),
    faultsServed: () => api.faultsServed,
    requestsServed: () => api.requestsServed,
    streamedBytes: () => api.streamedBytes,
    closeWatches: () => api.closeWatches(),
    compactHistory: () => store.compact(),
    async close() {
      autoscaler.close();
      await api.close();
      await kubelet.close();
    },
  };
}
