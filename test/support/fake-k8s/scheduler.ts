// A single-profile scheduler with the default filter plugins that matter for routing CI pods, in the
// real plugin order (the first failing filter is a node's reason): NodeUnschedulable, TaintToleration,
// NodeAffinity (nodeSelector + requiredDuringScheduling), NodeResourcesFit. Scoring is simplified to
// "least requested cpu, then name". Unschedulable pods are retried when nodes or running pods change.
import type { EventRecorder } from './events.js';
import { parseQuantity } from './quantity.js';
import type { KObject, Store } from './store.js';

export interface Taint {
  key: string;
  value?: string;
  effect: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
}
export interface Toleration {
  key?: string;
  operator?: 'Equal' | 'Exists';
  value?: string;
  effect?: string;
}
interface Requirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist' | 'Gt' | 'Lt';
  values?: string[];
}
interface PodSpecLike {
  nodeName?: string;
  nodeSelector?: Record<string, string>;
  tolerations?: Toleration[];
  affinity?: {
    nodeAffinity?: {
      requiredDuringSchedulingIgnoredDuringExecution?: {
        nodeSelectorTerms?: Array<{ matchExpressions?: Requirement[]; matchFields?: Requirement[] }>;
      };
    };
  };
  containers?: Array<{ resources?: { requests?: Record<string, string> } }>;
  initContainers?: Array<{ resources?: { requests?: Record<string, string> } }>;
}

const UNSCHEDULABLE_TAINT: Taint = { key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' };

export function tolerates(t: Toleration, taint: Taint): boolean {
  if (t.effect && t.effect !== taint.effect) return false;
  if (!t.key) return t.operator === 'Exists'; // empty key + Exists tolerates everything
  if (t.key !== taint.key) return false;
  if (t.operator === 'Exists') return true;
  return (t.value ?? '') === (taint.value ?? '');
}

function matchesRequirement(labels: Record<string, string>, r: Requirement): boolean {
  const v = labels[r.key];
  switch (r.operator) {
    case 'In':
      return v !== undefined && (r.values ?? []).includes(v);
    case 'NotIn':
      return v === undefined || !(r.values ?? []).includes(v);
    case 'Exists':
      return v !== undefined;
    case 'DoesNotExist':
      return v === undefined;
    case 'Gt':
      return v !== undefined && Number(v) > Number(r.values?.[0]);
    case 'Lt':
      return v !== undefined && Number(v) < Number(r.values?.[0]);
  }
}

function nodeAffinityMatches(spec: PodSpecLike, node: KObject): boolean {
  const labels = node.metadata.labels ?? {};
  for (const [k, v] of Object.entries(spec.nodeSelector ?? {})) if (labels[k] !== v) return false;
  const terms =
    spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
  if (!terms) return true;
  // Terms are ORed; expressions within a term are ANDed; an empty term matches nothing.
  return terms.some((t) => {
    const exprs = t.matchExpressions ?? [];
    const fields = t.matchFields ?? [];
    if (!exprs.length && !fields.length) return false;
    return (
      exprs.every((r) => matchesRequirement(labels, r)) &&
      fields.every((r) => matchesRequirement({ 'metadata.name': node.metadata.name }, r))
    );
  });
}

/** Effective request: max(sum of app containers, largest init container), per resource. */
export function podRequests(spec: PodSpecLike): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of spec.containers ?? []) {
    for (const [r, v] of Object.entries(c.resources?.requests ?? {}))
      out[r] = (out[r] ?? 0) + (parseQuantity(v) ?? 0);
  }
  for (const c of spec.initContainers ?? []) {
    for (const [r, v] of Object.entries(c.resources?.requests ?? {}))
      out[r] = Math.max(out[r] ?? 0, parseQuantity(v) ?? 0);
  }
  return out;
}

const isActive = (p: KObject): boolean => {
  const phase = (p.status as { phase?: string } | undefined)?.phase;
  return phase !== 'Succeeded' && phase !== 'Failed';
};

export class Scheduler {
  private pending = false;

  constructor(
    private readonly store: Store,
    private readonly events: EventRecorder,
  ) {
    store.onChange((c) => {
      if (c.resource === 'nodes') this.kick();
      else if (c.resource === 'pods') {
        const nodeName = (c.object.spec as PodSpecLike | undefined)?.nodeName;
        if (c.type === 'ADDED' && !nodeName) this.kick();
        else if (c.type === 'DELETED' && nodeName) this.kick();
        else if (
          c.type === 'MODIFIED' &&
          nodeName &&
          c.previous &&
          isActive(c.previous) &&
          !isActive(c.object)
        )
          this.kick();
      }
    });
  }

  /** Runs a scheduling pass soon, outside the store's change callback. */
  kick(): void {
    if (this.pending) return;
    this.pending = true;
    setImmediate(() => {
      this.pending = false;
      this.scheduleAll();
    });
  }

  private scheduleAll(): void {
    const queue = this.store.list('pods').filter((p) => {
      const spec = p.spec as PodSpecLike;
      return !spec.nodeName && !p.metadata.deletionTimestamp && isActive(p);
    });
    queue.sort((a, b) =>
      (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? ''),
    );
    for (const pod of queue) this.scheduleOne(pod);
  }

  private scheduleOne(pod: KObject): void {
    const spec = pod.spec as PodSpecLike;
    const nodes = this.store.list('nodes');
    const reasons = new Map<string, number>();
    const preemption = new Map<string, number>();
    const add = (m: Map<string, number>, r: string): void => {
      m.set(r, (m.get(r) ?? 0) + 1);
    };
    const feasible: Array<{ node: KObject; cpuUsed: number }> = [];
    const want = podRequests(spec);
    for (const node of nodes) {
      const nodeSpec = (node.spec ?? {}) as { unschedulable?: boolean; taints?: Taint[] };
      const tolerations = spec.tolerations ?? [];
      if (nodeSpec.unschedulable && !tolerations.some((t) => tolerates(t, UNSCHEDULABLE_TAINT))) {
        add(reasons, 'node(s) were unschedulable');
        add(preemption, 'Preemption is not helpful for scheduling');
        continue;
      }
      const untolerated = (nodeSpec.taints ?? []).find(
        (taint) => taint.effect !== 'PreferNoSchedule' && !tolerations.some((t) => tolerates(t, taint)),
      );
      if (untolerated) {
        add(reasons, `node(s) had untolerated taint {${untolerated.key}: ${untolerated.value ?? ''}}`);
        add(preemption, 'Preemption is not helpful for scheduling');
        continue;
      }
      if (!nodeAffinityMatches(spec, node)) {
        add(reasons, "node(s) didn't match Pod's node affinity/selector");
        add(preemption, 'Preemption is not helpful for scheduling');
        continue;
      }
      const allocatable =
        (node.status as { allocatable?: Record<string, string> } | undefined)?.allocatable ?? {};
      const onNode = this.store
        .list('pods')
        .filter((p) => (p.spec as PodSpecLike).nodeName === node.metadata.name && isActive(p));
      const used: Record<string, number> = {};
      for (const p of onNode)
        for (const [r, v] of Object.entries(podRequests(p.spec as PodSpecLike))) used[r] = (used[r] ?? 0) + v;
      const insufficient: string[] = [];
      if (onNode.length + 1 > (parseQuantity(allocatable.pods ?? '110') ?? 110))
        insufficient.push('Too many pods');
      for (const [r, v] of Object.entries(want)) {
        if (v === 0) continue;
        const cap = allocatable[r] !== undefined ? (parseQuantity(allocatable[r]) ?? 0) : 0;
        if ((used[r] ?? 0) + v > cap) insufficient.push(`Insufficient ${r}`);
      }
      if (insufficient.length) {
        for (const r of insufficient) add(reasons, r);
        add(preemption, 'No preemption victims found for incoming pod');
        continue;
      }
      feasible.push({ node, cpuUsed: (used.cpu ?? 0) / (parseQuantity(allocatable.cpu ?? '1') || 1) });
    }
    const ns = pod.metadata.namespace ?? 'default';
    if (feasible.length) {
      feasible.sort(
        (a, b) => a.cpuUsed - b.cpuUsed || a.node.metadata.name.localeCompare(b.node.metadata.name),
      );
      const nodeName = feasible[0]!.node.metadata.name;
      const bound = this.store.update('pods', ns, pod.metadata.name, (p) => {
        (p.spec as PodSpecLike).nodeName = nodeName;
        setCondition(p, { type: 'PodScheduled', status: 'True' });
      });
      this.events.record(
        bound,
        'Normal',
        'Scheduled',
        `Successfully assigned ${ns}/${pod.metadata.name} to ${nodeName}`,
        {
          component: 'default-scheduler',
        },
      );
      return;
    }
    const fmt = (m: Map<string, number>): string =>
      [...m.entries()]
        .map(([r, n]) => `${n} ${r}`)
        .sort()
        .join(', ');
    const message = nodes.length
      ? `0/${nodes.length} nodes are available: ${fmt(reasons)}. preemption: 0/${nodes.length} nodes are available: ${fmt(preemption)}.`
      : 'no nodes available to schedule pods';
    const updated = this.store.update('pods', ns, pod.metadata.name, (p) => {
      setCondition(p, { type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message });
    });
    this.events.record(updated, 'Warning', 'FailedScheduling', message, { component: 'default-scheduler' });
  }
}

export interface PodCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
  lastProbeTime?: null;
}

/** Sets a condition, keeping lastTransitionTime when the status does not change. */
export function setCondition(pod: KObject, c: PodCondition): void {
  const status = (pod.status ??= {}) as { conditions?: PodCondition[] };
  const conditions = (status.conditions ??= []);
  const existing = conditions.find((x) => x.type === c.type);
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  if (existing) {
    if (existing.status !== c.status) existing.lastTransitionTime = now;
    existing.reason = c.reason;
    existing.message = c.message;
    if (!c.reason) delete existing.reason;
    if (!c.message) delete existing.message;
  } else {
    conditions.push({
      type: c.type,
      status: c.status,
      lastProbeTime: null,
      lastTransitionTime: now,
      ...(c.reason ? { reason: c.reason } : {}),
      ...(c.message ? { message: c.message } : {}),
    });
  }
}
