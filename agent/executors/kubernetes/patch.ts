// Strategic merge patch, the subset a pod patch needs: maps merge recursively, `null` deletes a key,
// lists Kubernetes declares with a patch merge key (containers, volumes, env, ...) merge item by item on
// that key (`$patch: delete` in an item removes it), every other list is replaced, as `kubectl patch
// --type strategic` does. Pure; neither argument is modified.

/** Field name -> the key its list items merge on (from the core/v1 Go types' patchMergeKey tags). */
const MERGE_KEYS: Readonly<Record<string, string>> = {
  containers: 'name',
  initContainers: 'name',
  ephemeralContainers: 'name',
  volumes: 'name',
  env: 'name',
  volumeMounts: 'mountPath',
  volumeDevices: 'devicePath',
  ports: 'containerPort',
  imagePullSecrets: 'name',
  hostAliases: 'ip',
  topologySpreadConstraints: 'topologyKey',
  resourceClaims: 'name',
  readinessGates: 'conditionType',
};

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function isMap(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function clone<T>(v: T): T {
  return structuredClone(v);
}

export function strategicMerge<T extends object>(base: T, patch: Readonly<Record<string, unknown>>): T {
  return mergeMap(base as Record<string, unknown>, patch) as T;
}

function mergeMap(
  base: Record<string, unknown>,
  patch: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  if (patch.$patch === 'replace') {
    const { $patch: _, ...rest } = patch;
    return clone(rest);
  }
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(patch)) {
    if (key === '$patch') continue;
    if (value === null) {
      Reflect.deleteProperty(out, key);
      continue;
    }
    const current = out[key];
    const mergeKey = MERGE_KEYS[key];
    if (Array.isArray(value) && Array.isArray(current) && mergeKey !== undefined) {
      out[key] = mergeList(current, value, mergeKey);
    } else if (isMap(value) && isMap(current)) {
      out[key] = mergeMap(current, value);
    } else {
      out[key] = clone(stripDirectives(value));
    }
  }
  return out;
}

function mergeList(base: unknown[], patch: unknown[], key: string): unknown[] {
  const out = [...base];
  for (const item of patch) {
    if (!isMap(item) || item[key] === undefined) {
      out.push(clone(item));
      continue;
    }
    const at = out.findIndex((b) => isMap(b) && b[key] === item[key]);
    if (item.$patch === 'delete') {
      if (at >= 0) out.splice(at, 1);
      continue;
    }
    if (at >= 0) out[at] = mergeMap(out[at] as Record<string, unknown>, item);
    else out.push(stripDirectives(item));
  }
  return out;
}

// A new item carries no directives into the result.
function stripDirectives(v: unknown): unknown {
  if (!isMap(v)) return v;
  const out: Record<string, Json> = {};
  for (const [k, val] of Object.entries(v)) if (k !== '$patch') out[k] = stripDirectives(val) as Json;
  return out;
}
