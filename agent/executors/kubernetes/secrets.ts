// The step's own short-lived Secret: registry credentials of the step's image (image.ts; as a
// kubernetes.io/dockerconfigjson the pod pulls with) and the values the runner redacts from the log
// (so a reattached step redacts the same way). Created before the pod (which mounts it), then owned by
// the pod (ownerReferences), so Kubernetes deletes it with the pod whoever deletes the pod; the agent
// also deletes it with the pod, and the sweeper removes any left behind.
// client-node's models are classes, but its API takes plain JSON objects (it serializes them).
/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment */
import type { V1OwnerReference, V1Pod, V1Secret } from '@kubernetes/client-node';
import type { ExecStep } from '../executor.js';
import type { PullCredentials } from './image.js';

export const REDACT_KEY = 'redact';

/** The registry host of an image repository, as Docker's credential lookup names it. */
export function registryOf(repository: string): string {
  const first = repository.split('/')[0] ?? '';
  const isHost =
    repository.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  return isHost ? first : 'https://index.docker.io/v1/';
}

export function secretNameFor(podName: string): string {
  return `${podName}-step`;
}

function b64(s: string): string {
  return Buffer.from(s, 'utf8').toString('base64');
}

/**
 * The step's Secret, or undefined when it needs none (no credentials, nothing to redact). `pull`: the
 * registry credentials of the step's image (image.ts).
 */
export function buildStepSecret(
  step: ExecStep,
  meta: { name: string; namespace: string; labels: Record<string, string> },
  pull: PullCredentials | undefined,
): V1Secret | undefined {
  const redact = step.redact ?? [];
  if (!pull && redact.length === 0) return undefined;
  const data: Record<string, string> = {};
  if (redact.length > 0) data[REDACT_KEY] = b64(JSON.stringify(redact));
  if (pull) {
    const { username, password } = pull;
    const auth = b64(`${username}:${password}`);
    data['.dockerconfigjson'] = b64(
      JSON.stringify({ auths: { [registryOf(pull.repository)]: { username, password, auth } } }),
    );
  }
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: meta.name, namespace: meta.namespace, labels: meta.labels },
    type: pull ? 'kubernetes.io/dockerconfigjson' : 'Opaque',
    data,
  };
}

/** The redaction list a step Secret holds ([] when none). */
export function redactOf(secret: V1Secret | undefined): string[] {
  const raw = secret?.data?.[REDACT_KEY];
  if (!raw) return [];
  const parsed: unknown = JSON.parse(Buffer.from(raw, 'base64').toString('utf8'));
  return Array.isArray(parsed) ? parsed.filter((v): v is string => typeof v === 'string') : [];
}

/** Whether the step's pod pulls with its Secret. */
export function isPullSecret(secret: V1Secret | undefined): boolean {
  return secret?.type === 'kubernetes.io/dockerconfigjson';
}

/** The reference that makes a step's Secret the pod's: garbage-collected when the pod goes. */
export function podOwnerReference(pod: V1Pod): V1OwnerReference | undefined {
  const { name, uid } = pod.metadata ?? {};
  if (name === undefined || uid === undefined) return undefined;
  return { apiVersion: 'v1', kind: 'Pod', name, uid };
}
