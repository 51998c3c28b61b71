// The thin shell around @kubernetes/client-node: one KubeConfig per pool (a kubeconfig file, else the
// in-cluster service account) and the few API calls the executor makes, so the rest of the executor
// sees narrow functions and plain errors.
import {
  CoreV1Api,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1OwnerReference,
  type V1Pod,
  type V1Secret,
} from '@kubernetes/client-node';
import { statusOf, withRetry } from './retry.js';
import type { KubernetesPoolSettings } from './settings.js';

export { statusOf };

export function loadKubeConfig(settings: KubernetesPoolSettings): KubeConfig {
  const kc = new KubeConfig();
  if (settings.kubeconfig === undefined) kc.loadFromCluster();
  else kc.loadFromFile(settings.kubeconfig);
  if (settings.context !== undefined) kc.setCurrentContext(settings.context);
  return kc;
}

/** A one-line description of a client-node error: the API's Status message when it sent one. */
export function describe(err: unknown): string {
  if (err && typeof err === 'object' && 'body' in err) {
    const body = (err as { body?: unknown }).body;
    if (typeof body === 'string') {
      try {
        const parsed = JSON.parse(body) as { message?: unknown };
        if (typeof parsed.message === 'string') return parsed.message;
      } catch {
        return body;
      }
    }
  }
  if (err instanceof Error) return err.message;
  // A websocket failure surfaces as an ErrorEvent-like object whose message (or error) says what broke.
  if (err && typeof err === 'object') {
    const e = err as { message?: unknown; error?: unknown; type?: unknown };
    if (typeof e.message === 'string' && e.message) return e.message;
    if (e.error instanceof Error) return e.error.message;
    if (typeof e.type === 'string') return `websocket ${e.type}`;
  }
  return String(err);
}

export class KubeApi {
  readonly core: CoreV1Api;

  constructor(
    readonly kc: KubeConfig,
    readonly namespace: string,
  ) {
    this.core = kc.makeApiClient(CoreV1Api);
  }

  /**
   * A create that may be retried: when an earlier try reached the server before its answer was lost,
   * the retry's AlreadyExists means it was created, and the stored object is returned.
   */
  private async createOnce<T>(create: () => Promise<T>, read: () => Promise<T | undefined>): Promise<T> {
    return withRetry(async (attempt) => {
      try {
        return await create();
      } catch (err) {
        if (attempt > 1 && statusOf(err) === 409) {
          const existing = await read();
          if (existing) return existing;
        }
        throw err;
      }
    });
  }

  createPod(pod: V1Pod): Promise<V1Pod> {
    return this.createOnce(
      () => this.core.createNamespacedPod({ namespace: this.namespace, body: pod }),
      () => this.readPod(pod.metadata?.name ?? ''),
    );
  }

  /** A server-side dry run of a create: admission (Pod Security, quotas, webhooks) runs, nothing is stored. */
  dryRunCreatePod(pod: V1Pod): Promise<V1Pod> {
    return withRetry(() =>
      this.core.createNamespacedPod({ namespace: this.namespace, body: pod, dryRun: 'All' }),
    );
  }

  async readPod(name: string): Promise<V1Pod | undefined> {
    try {
      return await withRetry(() => this.core.readNamespacedPod({ namespace: this.namespace, name }));
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
  }

  /** Sets annotations on a pod (a JSON merge patch: other annotations stay). */
  async annotatePod(name: string, annotations: Record<string, string>): Promise<void> {
    await withRetry(() =>
      this.core.patchNamespacedPod(
        { namespace: this.namespace, name, body: { metadata: { annotations } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      ),
    );
  }

  async listPods(labelSelector: string): Promise<{ pods: V1Pod[]; resourceVersion: string | undefined }> {
    const list = await withRetry(() =>
      this.core.listNamespacedPod({ namespace: this.namespace, labelSelector }),
    );
    return { pods: list.items, resourceVersion: list.metadata?.resourceVersion };
  }

  /**
   * Deletes a pod gracefully: its containers get SIGTERM and `graceSeconds` (default: the pod's own
   * terminationGracePeriodSeconds) before SIGKILL. Never 0, which is a force delete: the object would
   * vanish from the API while its containers may still run. A pod already gone is fine.
   */
  async deletePod(name: string, graceSeconds?: number): Promise<void> {
    try {
      await withRetry(() =>
        this.core.deleteNamespacedPod({
          namespace: this.namespace,
          name,
          ...(graceSeconds !== undefined ? { gracePeriodSeconds: Math.max(1, graceSeconds) } : {}),
          propagationPolicy: 'Background',
        }),
      );
    } catch (err) {
      if (statusOf(err) !== 404) throw err;
    }
  }

  createSecret(secret: V1Secret): Promise<V1Secret> {
    return this.createOnce(
      () => this.core.createNamespacedSecret({ namespace: this.namespace, body: secret }),
      () => this.readSecret(secret.metadata?.name ?? ''),
    );
  }

  /** Sets the Secret's owners (a merge patch: its data is not sent again). */
  async setSecretOwners(name: string, ownerReferences: V1OwnerReference[]): Promise<void> {
    await withRetry(() =>
      this.core.patchNamespacedSecret(
        { namespace: this.namespace, name, body: { metadata: { ownerReferences } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      ),
    );
  }

  async readSecret(name: string): Promise<V1Secret | undefined> {
    try {
      return await withRetry(() => this.core.readNamespacedSecret({ namespace: this.namespace, name }));
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
  }

  async listSecrets(labelSelector: string): Promise<V1Secret[]> {
    return (
      await withRetry(() => this.core.listNamespacedSecret({ namespace: this.namespace, labelSelector }))
    ).items;
  }

  async deleteSecret(name: string): Promise<void> {
    try {
      await withRetry(() => this.core.deleteNamespacedSecret({ namespace: this.namespace, name }));
    } catch (err) {
      if (statusOf(err) !== 404) throw err;
    }
  }
}
