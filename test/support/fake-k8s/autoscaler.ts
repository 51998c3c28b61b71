// A cluster autoscaler (cluster-autoscaler, Karpenter) in miniature: once a pod is Unschedulable, the
// next node of the list joins the cluster `delayMs` later, as a real scale-up takes a while. Pods stay
// Pending and Unschedulable until then, which is what an executor must live through.
import type { Store } from './store.js';

interface PodConditions {
  status?: { conditions?: { type?: string; status?: string; reason?: string }[] };
}

function unschedulable(pod: PodConditions): boolean {
  return Boolean(
    pod.status?.conditions?.some(
      (c) => c.type === 'PodScheduled' && c.status === 'False' && c.reason === 'Unschedulable',
    ),
  );
}

export class Autoscaler<N extends { name: string }> {
  private readonly waiting: N[];
  private scaling: NodeJS.Timeout | undefined;

  constructor(
    store: Store,
    nodes: readonly N[],
    private readonly delayMs: number,
    private readonly addNode: (node: N) => void,
  ) {
    this.waiting = [...nodes];
    store.onChange((c) => {
      if (c.resource === 'pods' && c.type !== 'DELETED' && unschedulable(c.object as PodConditions))
        this.scaleUp();
    });
  }

  private scaleUp(): void {
    if (this.scaling || this.waiting.length === 0) return;
    this.scaling = setTimeout(() => {
      this.scaling = undefined;
      const node = this.waiting.shift();
      if (node) this.addNode(node);
    }, this.delayMs);
  }

  close(): void {
    clearTimeout(this.scaling);
  }
}
