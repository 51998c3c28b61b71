// The thin shell around @kubernetes/client-node: one KubeConfig per pool (a kubeconfig file, else the
// in-cluster service account) and the few API calls the executor makes, so the rest of the executor
// sees narrow functions and plain errors.
import { CoreV1Api, KubeConfig, type V1Pod, type V1Secret } from '@kubernetes/client-node';
import type { KubernetesPoolSettings } from './settings.js';

export function loadKubeConfig(settings: KubernetesPoolSettings): KubeConfig {
  const kc = new KubeConfig();
  if (settings.kubeconfig === undefined) kc.loadFromCluster();
  else kc.loadFromFile(settings.kubeconfig);
  if (settings.context !== undefined) kc.setCurrentContext(settings.context);
  return kc;
}

/** The HTTP status of a client-node error (ApiException.code), if any. */
export function statusOf(err: unknown): number | undefined {
  if (err && typeof err === 'object') {
    const e = err as { code?: unknown; statusCode?: unknown };
    if (typeof e.code === 'number') return e.code;
    if (typeof e.statusCode === 'number') return e.statusCode;
  }
  return undefined;
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

  createPod(pod: V1Pod): Promise<V1Pod> {
    return this.core.createNamespacedPod({ namespace: this.namespace, body: pod });
  }

  async readPod(name: string): Promise<V1Pod | undefined> {
    try {
      return await this.core.readNamespacedPod({ namespace: this.namespace, name });
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
  }

  async listPods(labelSelector: string): Promise<{ pods: V1Pod[]; resourceVersion: string | undefined }> {
    const list = await this.core.listNamespacedPod({ namespace: this.namespace, labelSelector });
    return { pods: list.items, resourceVersion: list.metadata?.resourceVersion };
  }

  /** Deletes a pod; a pod already gone is fine. */
  async deletePod(name: string, graceSeconds: number): Promise<void> {
    try {
      await this.core.deleteNamespacedPod({
        namespace: this.namespace,
        name,
        gracePeriodSeconds: graceSeconds,
        propagationPolicy: 'Background',
      });
    } catch (err) {
      if (statusOf(err) !== 404) throw err;
    }
  }

  createSecret(secret: V1Secret): Promise<V1Secret> {
    return this.core.createNamespacedSecret({ namespace: this.namespace, body: secret });
  }

  async readSecret(name: string): Promise<V1Secret | undefined> {
    try {
      return await this.core.readNamespacedSecret({ namespace: this.namespace, name });
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
  }

  async listSecrets(labelSelector: string): Promise<V1Secret[]> {
    return (await this.core.listNamespacedSecret({ namespace: this.namespace, labelSelector })).items;
  }

  async deleteSecret(name: string): Promise<void> {
    try {
      await this.core.deleteNamespacedSecret({ namespace: this.namespace, name });
    } catch (err) {
      if (statusOf(err) !== 404) throw err;
    }
  }
}
