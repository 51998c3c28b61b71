// Create/update/patch/delete semantics per resource, independent of HTTP: API-server defaulting and
// admission for pods (the fields a real server adds), validation, graceful pod deletion.
import { randomBytes } from 'node:crypto';
import { alreadyExists, ApiError, badRequest, conflict, invalid, notFound } from './errors.js';
import { nowSeconds } from './events.js';
import { admitPod, type ResourceQuota } from './admission.js';
import { validatePod, validatePodUpdate, validateSecret, validateMeta } from './validate.js';
import type { KObject, Resource, Store } from './store.js';

const NAME_CHARS = 'bcdfghjklmnpqrstvwxz2456789';

/** metadata.generateName -> a name with 5 random characters, as the real server does. */
function generateName(prefix: string): string {
  const bytes = randomBytes(5);
  return prefix + [...bytes].map((b) => NAME_CHARS[b % NAME_CHARS.length]).join('');
}

interface Container {
  image?: string;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  imagePullPolicy?: string;
  terminationMessagePath?: string;
  terminationMessagePolicy?: string;
}

function qosClass(containers: Container[]): string {
  let any = false;
  let guaranteed = true;
  for (const c of containers) {
    const req = c.resources?.requests ?? {};
    const lim = c.resources?.limits ?? {};
    if (Object.keys(req).length || Object.keys(lim).length) any = true;
    for (const r of ['cpu', 'memory']) {
      if (lim[r] === undefined || (req[r] !== undefined && req[r] !== lim[r])) guaranteed = false;
    }
  }
  if (!any) return 'BestEffort';
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

/** Defaulting (SetDefaults_Pod & co.) plus the DefaultTolerationSeconds and ServiceAccount admission plugins. */
function defaultPod(pod: KObject): void {
  const spec = (pod.spec ??= {}) as Record<string, unknown> & {
    containers?: Container[];
    initContainers?: Container[];
    tolerations?: Array<Record<string, unknown>>;
  };
  spec.restartPolicy ??= 'Always';
  spec.terminationGracePeriodSeconds ??= 30;
  spec.dnsPolicy ??= 'ClusterFirst';
  spec.schedulerName ??= 'default-scheduler';
  spec.securityContext ??= {};
  spec.serviceAccountName ??= 'default';
  spec.serviceAccount ??= spec.serviceAccountName;
  spec.enableServiceLinks ??= true;
  spec.priority ??= 0;
  spec.preemptionPolicy ??= 'PreemptLowerPriority';
  const tolerations = (spec.tolerations ??= []);
  for (const key of ['node.kubernetes.io/not-ready', 'node.kubernetes.io/unreachable']) {
    if (!tolerations.some((t) => t.key === key || (!t.key && t.operator === 'Exists'))) {
      tolerations.push({ key, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 });
    }
  }
  const all = [...(spec.initContainers ?? []), ...(spec.containers ?? [])];
  for (const c of all) {
    const tag = c.image?.includes('@') ? 'digest' : /:[^/]+$/.exec(c.image ?? '')?.[0];
    c.imagePullPolicy ??= !tag || tag === ':latest' ? 'Always' : 'IfNotPresent';
    c.terminationMessagePath ??= '/dev/termination-log';
    c.terminationMessagePolicy ??= 'File';
    c.resources ??= {};
    // Limits without requests default the requests to the limits.
    for (const [r, v] of Object.entries(c.resources.limits ?? {})) {
      c.resources.requests ??= {};
      c.resources.requests[r] ??= v;
    }
  }
  pod.status = { phase: 'Pending', qosClass: qosClass(spec.containers ?? []) };
}

export class Resources {
  constructor(
    private readonly store: Store,
    private readonly quotas: readonly ResourceQuota[] = [],
  ) {}

  /** `dryRun`: validated, defaulted and admitted like a real create, then not stored. */
  create(resource: Resource, namespace: string, body: unknown, dryRun = false): KObject {
    if (!body || typeof body !== 'object' || typeof (body as KObject).metadata !== 'object') {
      throw badRequest('the body of the request was in an unknown format');
    }
    const obj = structuredClone(body as KObject);
    if (obj.metadata.namespace && obj.metadata.namespace !== namespace) {
      throw badRequest(
        'the namespace of the provided object does not match the namespace sent on the request',
      );
    }
    if (!this.store.get('namespaces', undefined, namespace)) throw notFound('namespaces', namespace);
    obj.metadata.namespace = namespace;
    if (!obj.metadata.name && obj.metadata.generateName)
      obj.metadata.name = generateName(obj.metadata.generateName);
    // Clients cannot set system fields.
    delete obj.metadata.uid;
    delete obj.metadata.resourceVersion;
    delete obj.metadata.creationTimestamp;
    delete obj.metadata.deletionTimestamp;
    if (resource === 'pods') {
      validatePod(obj);
      defaultPod(obj);
      admitPod(obj, this.store.get('namespaces', undefined, namespace), this.quotas);
    } else if (resource === 'secrets') {
      validateSecret(obj);
      obj.type ??= 'Opaque';
      const stringData = obj.stringData as Record<string, string> | undefined;
      if (stringData) {
        const data = (obj.data ??= {}) as Record<string, string>;
        for (const [k, v] of Object.entries(stringData)) data[k] = Buffer.from(v).toString('base64');
        delete obj.stringData;
      }
    } else if (resource === 'events') {
      const errs = validateMeta(obj, true);
      if (errs.length) throw invalid('Event', obj.metadata.name, errs);
    } else throw new ApiError(405, 'MethodNotAllowed', `create is not supported on ${resource}`);
    if (dryRun) {
      if (this.store.get(resource, namespace, obj.metadata.name))
        throw alreadyExists(resource, obj.metadata.name);
      return { ...obj, metadata: { ...obj.metadata, creationTimestamp: new Date().toISOString() } };
    }
    return this.store.create(resource, obj);
  }

  /** PUT: replace metadata.labels/annotations and the mutable parts of the object. */
  replace(resource: Resource, namespace: string, name: string, body: KObject): KObject {
    const current = this.store.mustGet(resource, namespace, name);
    if (body.metadata.name !== name)
      throw badRequest('the name of the object does not match the name on the URL');
    const rv = body.metadata.resourceVersion;
    if (rv && rv !== current.metadata.resourceVersion) throw conflict(resource, name);
    if (resource === 'pods') {
      const next = {
        ...structuredClone(current),
        metadata: {
          ...current.metadata,
          labels: body.metadata.labels,
          annotations: body.metadata.annotations,
        },
        spec: body.spec,
      };
      validatePodUpdate(current, next);
      return this.store.update(resource, namespace, name, (o) => {
        o.metadata.labels = body.metadata.labels;
        o.metadata.annotations = body.metadata.annotations;
        if (!o.metadata.labels) delete o.metadata.labels;
        if (!o.metadata.annotations) delete o.metadata.annotations;
        o.spec = body.spec;
      });
    }
    if (resource === 'secrets') {
      if (current.immutable) {
        throw invalid('Secret', name, [
          {
            field: 'data',
            type: 'FieldValueForbidden',
            detail: 'Forbidden: field is immutable when `immutable` is set',
          },
        ]);
      }
      validateSecret(body);
      validateOwnerReferences('Secret', name, body);
      return this.store.update(resource, namespace, name, (o) => {
        o.metadata.labels = body.metadata.labels;
        o.metadata.annotations = body.metadata.annotations;
        // ownerReferences are kept like labels: the garbage collector deletes the Secret with its owner.
        o.metadata.ownerReferences = body.metadata.ownerReferences;
        if (!o.metadata.ownerReferences) delete o.metadata.ownerReferences;
        const data = { ...((body.data ?? {}) as Record<string, string>) };
        for (const [k, v] of Object.entries((body.stringData ?? {}) as Record<string, string>))
          data[k] = Buffer.from(v).toString('base64');
        o.data = data;
        o.type = body.type ?? o.type;
        if (body.immutable !== undefined) o.immutable = body.immutable;
      });
    }
    throw new ApiError(405, 'MethodNotAllowed', `update is not supported on ${resource}`);
  }

  patch(resource: Resource, namespace: string, name: string, contentType: string, patch: unknown): KObject {
    const current = this.store.mustGet(resource, namespace, name);
    let next: KObject;
    if (contentType.startsWith('application/json-patch+json')) {
      if (!Array.isArray(patch))
        throw badRequest('the server rejected our request due to an error in our request');
      next = applyJsonPatch(current, patch as JsonPatchOp[]);
    } else if (
      contentType.startsWith('application/merge-patch+json') ||
      contentType.startsWith('application/strategic-merge-patch+json')
    ) {
      // fake: strategic merge patch is applied as a JSON merge patch (lists are replaced, not merged by key).
      next = mergePatch(current, patch) as KObject;
    } else {
      throw new ApiError(
        415,
        'UnsupportedMediaType',
        `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json`,
      );
    }
    next.metadata.name = name;
    next.metadata.resourceVersion = undefined;
    return this.replace(resource, namespace, name, next);
  }

  /**
   * Pod deletion as the API server does it: immediate for unscheduled or finished pods and for grace 0,
   * otherwise deletionTimestamp + deletionGracePeriodSeconds (the kubelet then stops the containers and
   * removes the object).
   */
  deletePod(
    namespace: string,
    name: string,
    gracePeriodSeconds: number | undefined,
    preconditionUid?: string,
  ): KObject {
    const pod = this.store.mustGet('pods', namespace, name);
    checkUid(pod, preconditionUid);
    const spec = pod.spec as { nodeName?: string; terminationGracePeriodSeconds?: number };
    const phase = (pod.status as { phase?: string } | undefined)?.phase;
    let grace = gracePeriodSeconds ?? spec.terminationGracePeriodSeconds ?? 30;
    if (!spec.nodeName || phase === 'Succeeded' || phase === 'Failed') grace = 0;
    if (grace === 0) return this.store.remove('pods', namespace, name);
    if (pod.metadata.deletionTimestamp) {
      const remaining = pod.metadata.deletionGracePeriodSeconds ?? 0;
      if (grace >= remaining) return pod;
    }
    return this.store.update('pods', namespace, name, (p) => {
      p.metadata.deletionTimestamp = new Date(Date.now() + grace * 1000)
        .toISOString()
        .replace(/\.\d+Z$/, 'Z');
      p.metadata.deletionGracePeriodSeconds = grace;
    });
  }

  delete(
    resource: Resource,
    namespace: string,
    name: string,
    preconditionUid?: string,
  ): Record<string, unknown> {
    const obj = this.store.mustGet(resource, namespace, name);
    checkUid(obj, preconditionUid);
    this.store.remove(resource, namespace, name);
    return {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Success',
      details: { name, kind: resource, uid: obj.metadata.uid },
    };
  }
}

function checkUid(obj: KObject, uid: string | undefined): void {
  if (uid && uid !== obj.metadata.uid) {
    throw new ApiError(
      409,
      'Conflict',
      `Precondition failed: UID in precondition: ${uid}, UID in object meta: ${obj.metadata.uid ?? ''}`,
    );
  }
}

export const timestamp = nowSeconds;

interface JsonPatchOp {
  op: 'add' | 'remove' | 'replace' | 'test' | 'move' | 'copy';
  path: string;
  value?: unknown;
  from?: string;
}

function applyJsonPatch(doc: KObject, ops: JsonPatchOp[]): KObject {
  const root = { doc: structuredClone(doc) } as Record<string, unknown>;
  const parse = (p: string): string[] => [
    'doc',
    ...p
      .split('/')
      .slice(1)
      .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~')),
  ];
  const parent = (segs: string[]): [Record<string, unknown> | unknown[], string] => {
    let cur: unknown = root;
    for (const s of segs.slice(0, -1)) {
      cur = (cur as Record<string, unknown>)[s];
      if (cur === null || typeof cur !== 'object')
        throw new ApiError(422, 'Invalid', `doc is missing path: ${segs.join('/')}`);
    }
    return [cur as Record<string, unknown>, segs[segs.length - 1]!];
  };
  const getAt = (segs: string[]): unknown => {
    const [p, k] = parent(segs);
    return (p as Record<string, unknown>)[k];
  };
  for (const op of ops) {
    const segs = parse(op.path);
    const [p, k] = parent(segs);
    switch (op.op) {
      case 'add':
      case 'replace':
        if (Array.isArray(p)) {
          const i = k === '-' ? p.length : Number(k);
          if (op.op === 'add') p.splice(i, 0, op.value);
          else p[i] = op.value;
        } else {
          if (op.op === 'replace' && !(k in p))
            throw new ApiError(422, 'Invalid', `doc is missing key: ${op.path}`);
          p[k] = op.value;
        }
        break;
      case 'remove':
        if (Array.isArray(p)) p.splice(Number(k), 1);
        else {
          if (!(k in p)) throw new ApiError(422, 'Invalid', `doc is missing key: ${op.path}`);
          Reflect.deleteProperty(p, k);
        }
        break;
      case 'test':
        if (JSON.stringify(getAt(segs)) !== JSON.stringify(op.value))
          throw new ApiError(422, 'Invalid', `testing value ${op.path} failed`);
        break;
      case 'move':
      case 'copy': {
        const fromSegs = parse(op.from ?? '');
        const v = structuredClone(getAt(fromSegs));
        if (op.op === 'move') {
          const [fp, fk] = parent(fromSegs);
          if (Array.isArray(fp)) fp.splice(Number(fk), 1);
          else Reflect.deleteProperty(fp, fk);
        }
        if (Array.isArray(p)) p.splice(k === '-' ? p.length : Number(k), 0, v);
        else p[k] = v;
        break;
      }
    }
  }
  return root.doc as KObject;
}

/** As the API server validates metadata.ownerReferences: each names its owner fully, by uid too. */
function validateOwnerReferences(kind: string, name: string, body: KObject): void {
  const refs = (body.metadata.ownerReferences ?? []) as Record<string, unknown>[];
  refs.forEach((ref, i) => {
    for (const field of ['apiVersion', 'kind', 'name', 'uid'])
      if (typeof ref[field] !== 'string' || ref[field] === '')
        throw invalid(kind, name, [
          {
            field: `metadata.ownerReferences[${i}].${field}`,
            type: 'FieldValueRequired',
            detail: 'Required value',
          },
        ]);
  });
}

function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out =
    target && typeof target === 'object' && !Array.isArray(target)
      ? { ...(target as Record<string, unknown>) }
      : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) Reflect.deleteProperty(out, k);
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}
