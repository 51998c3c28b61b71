// An agent may have its whole unacknowledged log window on the wire at once: the hub's HTTP/2 windows
// (per stream and for the connection) hold it, instead of Node's 64 KiB default that let one log chunk
// through per round trip (issue 20: about one chunk per store transaction).

import http2 from 'node:http2';
import { afterEach, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/harness.js';

let hub: TestHub | undefined;
afterEach(async () => {
  await hub?.close();
  hub = undefined;
});

it("advertises HTTP/2 windows that hold an agent's whole log window", async () => {
  hub = await startTestHub();
  const session = http2.connect(`http://127.0.0.1:${hub.grpcPort}`);
  try {
    const settings = await new Promise<http2.Settings>((resolve, reject) => {
      session.once('remoteSettings', resolve);
      session.once('error', reject);
    });
    const needed = hub.options.logWindowBytes + hub.options.maxLogChunkBytes;
    expect(settings.initialWindowSize, 'window of each stream').toBeGreaterThanOrEqual(needed);
    // The connection's window grows by a WINDOW_UPDATE the hub sends as the session starts.
    const deadline = Date.now() + 10_000;
    while ((session.state.remoteWindowSize ?? 0) < needed) {
      if (Date.now() > deadline)
        throw new Error(`connection window still ${session.state.remoteWindowSize} bytes after 10 s`);
      await new Promise<void>((resolve) => session.ping(() => resolve()));
    }
  } finally {
    session.destroy();
  }
});
