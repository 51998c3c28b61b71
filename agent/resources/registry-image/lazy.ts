// The registry-image resource, loaded on first use: it brings an HTTP client (undici) and the image
// code, ~5 MB of an idle agent's memory that an agent never running it need not hold.

import type { BuiltinContext } from '../builtin.js';

export async function registryImage(ctx: BuiltinContext): Promise<unknown> {
  const loaded = await import('./registry-image.js');
  return loaded.registryImage(ctx);
}
