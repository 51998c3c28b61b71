// The namespaced RBAC rules the executor needs, and nothing more: docs/kubernetes.md renders them, the
// end-to-end tests run the fake API server with exactly these and check every one was used.
export interface RbacRule {
  readonly resources: readonly string[];
  readonly verbs: readonly string[];
}

export const DOCUMENTED_RBAC: readonly RbacRule[] = [
  // create: one pod per step; get/list/watch: the pool's pod watch, reattach; delete: cleanup, abort,
  // sweeper; patch: the annotation that says how far the hub has stored the step's log.
  { resources: ['pods'], verbs: ['get', 'list', 'watch', 'create', 'patch', 'delete'] },
  // Following the step's log.
  { resources: ['pods/log'], verbs: ['get'] },
  // Inputs go in on the inputs helper's stdin (attach); outputs come out of `tar -c` (exec). Websocket
  // upgrades are checked as get, and as create since Kubernetes 1.35.
  { resources: ['pods/attach', 'pods/exec'], verbs: ['get', 'create'] },
  // The step's short-lived Secret (registry credentials, redaction list): get on reattach, list for the
  // sweeper, patch to make it owned by its pod (deleted with it).
  { resources: ['secrets'], verbs: ['get', 'list', 'create', 'patch', 'delete'] },
];
