// Admission of a pod create, after defaulting, as the real API server's built-in plugins do it:
// - Pod Security Admission, level from the namespace label pod-security.kubernetes.io/enforce
//   (privileged | baseline | restricted), with the real 403 sentence
//   `violates PodSecurity "restricted:latest": <check> (<detail>), ...`;
// - ResourceQuota: when a quota of the namespace names requests.cpu / limits.memory / ..., every
//   container (init ones too) must specify that resource: `failed quota: <name>: must specify ...`.
//   Usage is not counted (a real quota also rejects pods once `hard` is used up).
import { ApiError } from './errors.js';
import type { KObject } from './store.js';

export interface ResourceQuota {
  namespace: string;
  name: string;
  /** e.g. { 'limits.cpu': '8', 'requests.memory': '16Gi' } */
  hard: Record<string, string>;
}

interface SecurityContext {
  privileged?: boolean;
  allowPrivilegeEscalation?: boolean;
  capabilities?: { add?: string[]; drop?: string[] };
  runAsNonRoot?: boolean;
  runAsUser?: number;
  seccompProfile?: { type?: string };
}

interface ContainerLike {
  name: string;
  securityContext?: SecurityContext;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
}

interface PodSpecLike {
  os?: { name?: string };
  hostNetwork?: boolean;
  hostPID?: boolean;
  hostIPC?: boolean;
  securityContext?: SecurityContext;
  volumes?: { name: string; hostPath?: unknown }[];
  initContainers?: ContainerLike[];
  containers?: ContainerLike[];
}

export const PSA_ENFORCE_LABEL = 'pod-security.kubernetes.io/enforce';
type Level = 'privileged' | 'baseline' | 'restricted';

// Capabilities baseline allows to be added (pod-security-admission's capabilities_baseline).
const BASELINE_CAPS = new Set([
  'AUDIT_WRITE',
  'CHOWN',
  'DAC_OVERRIDE',
  'FOWNER',
  'FSETID',
  'KILL',
  'MKNOD',
  'NET_BIND_SERVICE',
  'SETFCAP',
  'SETGID',
  'SETPCAP',
  'SETUID',
  'SYS_CHROOT',
]);

const quoted = (names: string[]) => names.map((n) => `"${n}"`).join(', ');
const containersPhrase = (names: string[]) =>
  `${names.length === 1 ? 'container' : 'containers'} ${quoted(names)}`;

/** The PSA checks a pod fails at `level`, in the API server's words (empty: admitted). */
function podSecurityViolations(spec: PodSpecLike, level: Level): string[] {
  if (level === 'privileged') return [];
  const out: string[] = [];
  const all = [...(spec.initContainers ?? []), ...(spec.containers ?? [])];
  const failing = (pred: (c: ContainerLike) => boolean) => all.filter(pred).map((c) => c.name);
  const windows = spec.os?.name === 'windows';

  // baseline
  const host = (['hostNetwork', 'hostPID', 'hostIPC'] as const).filter((f) => spec[f]);
  if (host.length) out.push(`host namespaces (${host.map((f) => `${f}=true`).join(', ')})`);
  const privileged = failing((c) => c.securityContext?.privileged === true);
  if (privileged.length)
    out.push(`privileged (${containersPhrase(privileged)} must not set securityContext.privileged=true)`);
  const hostPath = (spec.volumes ?? []).filter((v) => v.hostPath !== undefined).map((v) => v.name);
  if (hostPath.length)
    out.push(`hostPath volumes (${hostPath.length === 1 ? 'volume' : 'volumes'} ${quoted(hostPath)})`);
  const addedCaps = failing((c) =>
    (c.securityContext?.capabilities?.add ?? []).some((cap) => !BASELINE_CAPS.has(cap)),
  );
  if (addedCaps.length && level === 'baseline')
    out.push(`non-default capabilities (${containersPhrase(addedCaps)} must not include them)`);
  if (level === 'baseline') return out;

  // restricted; seccomp, capabilities and privilege escalation are not checked on Windows pods.
  if (!windows) {
    const escalation = failing((c) => c.securityContext?.allowPrivilegeEscalation !== false);
    if (escalation.length)
      out.push(
        `allowPrivilegeEscalation != false (${containersPhrase(escalation)} must set securityContext.allowPrivilegeEscalation=false)`,
      );
    const caps = failing(
      (c) =>
        !(c.securityContext?.capabilities?.drop ?? []).includes('ALL') ||
        (c.securityContext?.capabilities?.add ?? []).some((cap) => cap !== 'NET_BIND_SERVICE'),
    );
    if (caps.length)
      out.push(
        `unrestricted capabilities (${containersPhrase(caps)} must set securityContext.capabilities.drop=["ALL"])`,
      );
  }
  const podNonRoot = spec.securityContext?.runAsNonRoot === true;
  const nonRoot = failing((c) => !(c.securityContext?.runAsNonRoot ?? podNonRoot));
  if (nonRoot.length)
    out.push(
      `runAsNonRoot != true (pod or ${containersPhrase(nonRoot)} must set securityContext.runAsNonRoot=true)`,
    );
  const rootUid = failing((c) => c.securityContext?.runAsUser === 0);
  if (spec.securityContext?.runAsUser === 0) out.push('runAsUser=0 (pod must not set runAsUser=0)');
  else if (rootUid.length) out.push(`runAsUser=0 (${containersPhrase(rootUid)} must not set runAsUser=0)`);
  if (!windows) {
    const podSeccomp = spec.securityContext?.seccompProfile?.type;
    const seccomp = failing((c) => {
      const t = c.securityContext?.seccompProfile?.type ?? podSeccomp;
      return t !== 'RuntimeDefault' && t !== 'Localhost';
    });
    if (seccomp.length)
      out.push(
        `seccompProfile (pod or ${containersPhrase(seccomp)} must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")`,
      );
  }
  return out;
}

function levelOf(namespace: KObject | undefined): Level {
  const v = namespace?.metadata.labels?.[PSA_ENFORCE_LABEL];
  return v === 'baseline' || v === 'restricted' ? v : 'privileged';
}

/** Throws the API server's 403 when Pod Security or a ResourceQuota of the namespace rejects `pod`. */
export function admitPod(
  pod: KObject,
  namespace: KObject | undefined,
  quotas: readonly ResourceQuota[],
): void {
  const spec = (pod.spec ?? {}) as PodSpecLike;
  const name = pod.metadata.name;
  const level = levelOf(namespace);
  const violations = podSecurityViolations(spec, level);
  if (violations.length)
    throw new ApiError(
      403,
      'Forbidden',
      `pods "${name}" is forbidden: violates PodSecurity "${level}:latest": ${violations.join(', ')}`,
      { name, kind: 'pods' },
    );
  const all = [...(spec.initContainers ?? []), ...(spec.containers ?? [])];
  for (const quota of quotas) {
    if (quota.namespace !== pod.metadata.namespace) continue;
    const missing: string[] = [];
    for (const key of Object.keys(quota.hard).sort()) {
      const [kind, resource] = key.split('.') as [string, string | undefined];
      if ((kind !== 'requests' && kind !== 'limits') || !resource) continue;
      const lacking = all.filter((c) => c.resources?.[kind]?.[resource] === undefined).map((c) => c.name);
      if (lacking.length) missing.push(`${key} for: ${lacking.join(',')}`);
    }
    if (missing.length)
      throw new ApiError(
        403,
        'Forbidden',
        `pods "${name}" is forbidden: failed quota: ${quota.name}: must specify ${missing.join('; ')}`,
        { name, kind: 'pods' },
      );
  }
}
