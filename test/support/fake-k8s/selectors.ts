// Label and field selectors as the API server parses them (k8s.io/apimachinery/pkg/labels and fields).
import { badRequest } from './errors.js';
import type { KObject } from './store.js';

export type Matcher = (obj: KObject) => boolean;

const LABEL_OPS = /^([^!=<>\s(),]+)\s*(==|=|!=)\s*(.*)$/;

/** Parses `a=b,c!=d,e in (x,y),f notin (z),g,!h`. Unparseable input is a 400 like a real server's. */
export function parseLabelSelector(selector: string | undefined): Matcher {
  if (!selector?.trim()) return () => true;
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of selector) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else current += ch;
  }
  parts.push(current);
  const reqs = parts.map((raw): ((labels: Record<string, string>) => boolean) => {
    const part = raw.trim();
    const set = /^(\S+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(part);
    if (set) {
      const [, key, op, list] = set as unknown as [string, string, string, string];
      const values = new Set(list.split(',').map((v) => v.trim()));
      return op === 'in'
        ? (l) => key in l && values.has(l[key]!)
        : (l) => !(key in l) || !values.has(l[key]!);
    }
    const m = LABEL_OPS.exec(part);
    if (m) {
      const [, key, op, value] = m as unknown as [string, string, string, string];
      if (/[\s(),!=]/.test(value)) throw badRequest(`unable to parse requirement: ${part}`);
      return op === '!=' ? (l) => l[key] !== value : (l) => l[key] === value;
    }
    if (/^![^\s!=(),]+$/.test(part)) return (l) => !(part.slice(1) in l);
    if (/^[^\s!=(),]+$/.test(part)) return (l) => part in l;
    throw badRequest(`unable to parse requirement: found '${part}', expected: identifier`);
  });
  return (obj) => {
    const labels = obj.metadata.labels ?? {};
    return reqs.every((r) => r(labels));
  };
}

/** The field selectors each resource supports (the real server rejects any other field). */
const FIELDS: Record<string, Record<string, (o: KObject) => string>> = {
  pods: {
    'metadata.name': (o) => o.metadata.name,
    'metadata.namespace': (o) => o.metadata.namespace ?? '',
    'spec.nodeName': (o) => str(o, 'spec', 'nodeName'),
    'spec.restartPolicy': (o) => str(o, 'spec', 'restartPolicy'),
    'spec.schedulerName': (o) => str(o, 'spec', 'schedulerName'),
    'spec.serviceAccountName': (o) => str(o, 'spec', 'serviceAccountName'),
    'spec.hostNetwork': (o) => String(Boolean(get(o, 'spec', 'hostNetwork'))),
    'status.phase': (o) => str(o, 'status', 'phase'),
    'status.podIP': (o) => str(o, 'status', 'podIP'),
    'status.nominatedNodeName': (o) => str(o, 'status', 'nominatedNodeName'),
  },
  secrets: {
    'metadata.name': (o) => o.metadata.name,
    'metadata.namespace': (o) => o.metadata.namespace ?? '',
    type: (o) => str(o, 'type'),
  },
  events: {
    'metadata.name': (o) => o.metadata.name,
    'metadata.namespace': (o) => o.metadata.namespace ?? '',
    'involvedObject.kind': (o) => str(o, 'involvedObject', 'kind'),
    'involvedObject.namespace': (o) => str(o, 'involvedObject', 'namespace'),
    'involvedObject.name': (o) => str(o, 'involvedObject', 'name'),
    'involvedObject.uid': (o) => str(o, 'involvedObject', 'uid'),
    'involvedObject.apiVersion': (o) => str(o, 'involvedObject', 'apiVersion'),
    'involvedObject.resourceVersion': (o) => str(o, 'involvedObject', 'resourceVersion'),
    'involvedObject.fieldPath': (o) => str(o, 'involvedObject', 'fieldPath'),
    reason: (o) => str(o, 'reason'),
    reportingComponent: (o) => str(o, 'reportingComponent'),
    source: (o) => str(o, 'source', 'component'),
    type: (o) => str(o, 'type'),
  },
  namespaces: { 'metadata.name': (o) => o.metadata.name, 'status.phase': (o) => str(o, 'status', 'phase') },
  nodes: {
    'metadata.name': (o) => o.metadata.name,
    'spec.unschedulable': (o) => String(Boolean(get(o, 'spec', 'unschedulable'))),
  },
};

function get(o: KObject, ...path: string[]): unknown {
  let v: unknown = o;
  for (const p of path) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[p] : undefined;
  return v;
}
function str(o: KObject, ...path: string[]): string {
  const v = get(o, ...path);
  return typeof v === 'string' ? v : '';
}

export function parseFieldSelector(resource: string, selector: string | undefined): Matcher {
  if (!selector?.trim()) return () => true;
  const fields = FIELDS[resource] ?? {};
  const reqs = selector.split(',').map((raw) => {
    const part = raw.trim();
    const m = /^([^!=]+?)\s*(==|=|!=)\s*(.*)$/.exec(part);
    if (!m) throw badRequest(`invalid selector: '${selector}'; can't understand '${part}'`);
    const [, field, op, value] = m as unknown as [string, string, string, string];
    const getter = fields[field];
    if (!getter) {
      throw badRequest(`field label not supported: ${field}`);
    }
    return op === '!=' ? (o: KObject) => getter(o) !== value : (o: KObject) => getter(o) === value;
  });
  return (obj) => reqs.every((r) => r(obj));
}
