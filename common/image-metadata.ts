// The env an image sets for what runs on it, from the `metadata.json` a registry-image (or mock) get
// writes next to `rootfs/`: `{"env": ["K=V", ...]}`. Shared by the hub (images fetched through their
// type) and the agent (rootfs of a process pool's task image).

/** `{"env": ["K=V", ...]}` of an image's metadata.json; anything else sets nothing. */
export function metadataEnv(text: string): Record<string, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return {};
  }
  const env = (parsed as { env?: unknown } | null)?.env;
  if (!Array.isArray(env)) return {};
  const out: Record<string, string> = {};
  for (const entry of env) {
    if (typeof entry !== 'string' || !entry.includes('=')) continue;
    const at = entry.indexOf('=');
    out[entry.slice(0, at)] = entry.slice(at + 1);
  }
  return out;
}
