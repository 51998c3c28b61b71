// A Role-like allow list. Attributes are computed as the API server's RequestInfo does (verb from the
// HTTP method + watch/collection, resource "pods/log" for subresources) so a rule list that passes here
// is the Role an agent needs. Websocket exec/attach need both `get` and `create` on pods/exec|attach
// (GET upgrade = get; Kubernetes >= 1.35 also checks create, AuthorizePodWebsocketUpgradeCreatePermission).
import { ApiError } from './errors.js';

export interface RbacRule {
  /** get, list, watch, create, update, patch, delete, deletecollection, or "*". */
  verbs: string[];
  /** "pods", "pods/log", "pods/exec", "pods/attach", "secrets", "events", "namespaces", "nodes", or "*". */
  resources: string[];
  /** Namespaces the rule applies in (a RoleBinding's namespace); omitted = every namespace and cluster scope (ClusterRoleBinding). */
  namespaces?: string[];
}

export interface RequestAttributes {
  verb: string;
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
}

export interface Permission {
  verb: string;
  resource: string;
  namespace?: string;
}

export class Authorizer {
  private readonly used = new Map<string, Permission>();

  constructor(
    private readonly rules: RbacRule[] | undefined,
    private readonly user: string,
  ) {}

  /** Throws 403 Forbidden (the real message) unless a rule allows the request. */
  check(a: RequestAttributes): void {
    const resource = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
    const perm: Permission = { verb: a.verb, resource, ...(a.namespace ? { namespace: a.namespace } : {}) };
    this.used.set(`${perm.verb} ${resource} ${a.namespace ?? ''}`, perm);
    if (!this.rules) return;
    const ok = this.rules.some(
      (r) =>
        (r.verbs.includes('*') || r.verbs.includes(a.verb)) &&
        (r.resources.includes('*') || r.resources.includes(resource)) &&
        (!r.namespaces || (a.namespace !== undefined && r.namespaces.includes(a.namespace))),
    );
    if (ok) return;
    const what = a.name ? `${a.resource} "${a.name}"` : a.resource;
    const scope = a.namespace ? `in the namespace "${a.namespace}"` : 'at the cluster scope';
    throw new ApiError(
      403,
      'Forbidden',
      `${what} is forbidden: User "${this.user}" cannot ${a.verb} resource "${resource}" in API group "" ${scope}`,
      {
        ...(a.name ? { name: a.name } : {}),
        kind: a.resource,
      },
    );
  }

  /** Every (verb, resource, namespace) the server was asked to authorize, allowed or not. */
  permissionsUsed(): Permission[] {
    return [...this.used.values()];
  }
}
