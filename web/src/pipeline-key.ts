// How the web UI names a pipeline: by its name, or for an instance (Concourse's instanced pipelines) by
// its name, `/` and the JSON of its instance vars. The API and the app's own URLs address an instance
// with the name in the path and the vars in a `vars` query, as Concourse does.

/** The instance vars of a pipeline instance, as the API returns them. */
type Vars = Record<string, unknown>;

export function keyOf(p: { name: string; instance_vars?: Vars | undefined }): string {
  return p.instance_vars && Object.keys(p.instance_vars).length > 0
    ? `${p.name}/${JSON.stringify(p.instance_vars)}`
    : p.name;
}

/** The pipeline's name, and its instance vars' JSON when it is an instance. */
export function splitKey(key: string): { name: string; vars: string | undefined } {
  const slash = key.indexOf('/');
  return slash < 0
    ? { name: key, vars: undefined }
    : { name: key.slice(0, slash), vars: key.slice(slash + 1) };
}

/** `path` with the instance's `vars` query added (after any query it has). */
export function withVars(path: string, key: string): string {
  const { vars } = splitKey(key);
  if (vars === undefined) return path;
  return `${path}${path.includes('?') ? '&' : '?'}vars=${encodeURIComponent(vars)}`;
}

/** The key of the pipeline a URL names: its path's name and its `vars` query. */
export function keyOfLocation(name: string, search: string): string {
  const vars = new URLSearchParams(search).get('vars');
  if (vars === null) return name;
  try {
    const parsed = JSON.parse(vars) as unknown;
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed))
      return keyOf({ name, instance_vars: parsed as Vars });
  } catch {
    // Not JSON: the hub answers "not found" for the pipeline, as for any unknown one.
  }
  return `${name}/${vars}`;
}

/** As fly shows a pipeline: `name`, or `name/key:value,...` for an instance. */
export function label(key: string): string {
  const { name, vars } = splitKey(key);
  if (vars === undefined) return name;
  try {
    const parsed = JSON.parse(vars) as Vars;
    const shown = Object.entries(parsed).map(
      ([k, v]) => `${k}:${typeof v === 'string' ? v : JSON.stringify(v)}`,
    );
    return `${name}/${shown.join(',')}`;
  } catch {
    return key;
  }
}
