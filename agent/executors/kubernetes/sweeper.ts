// Deletes this agent's pods and step Secrets in a pool that no lease owns any more: leftovers of a
// crash, of a lease the hub dropped while the agent was away, or of a cleanup that failed.
import type { KubeApi } from './client.js';
import { ANNOTATION, LABEL, labelValue } from './pod.js';

export async function sweep(api: KubeApi, selector: string, keep: Set<string>): Promise<string[]> {
  const keepLabels = new Set([...keep].map(labelValue));
  const owned = (lease: string | undefined, label: string | undefined) =>
    (lease !== undefined && keep.has(lease)) || (label !== undefined && keepLabels.has(label));
  const deleted: string[] = [];
  const { pods } = await api.listPods(selector);
  for (const pod of pods) {
    const name = pod.metadata?.name;
    if (!name || owned(pod.metadata?.annotations?.[ANNOTATION.lease], pod.metadata?.labels?.[LABEL.lease]))
      continue;
    await api.deletePod(name);
    deleted.push(`pod/${name}`);
  }
  for (const secret of await api.listSecrets(selector)) {
    const name = secret.metadata?.name;
    if (!name || owned(undefined, secret.metadata?.labels?.[LABEL.lease])) continue;
    await api.deleteSecret(name);
    deleted.push(`secret/${name}`);
  }
  return deleted;
}
