import { performance } from 'node:perf_hooks';
import { openStore } from '../hub/store/open.js';
import { BuildLogIndex } from '../hub/api/build-log-index.js';
const store = await openStore({ dataDir: '/tmp/uiwork/hubdata/hub' } as any);
for (let i = 0; i < 3; i++) {
  let t = performance.now();
  let n = 0, bytes = 0;
  for (let after = 0; ; ) { const ev = await store.listBuildEvents(1, after, 64); if (!ev.length) break; for (const e of ev) bytes += e.json.length; after = ev.at(-1)!.seq; n += ev.length; }
  const read = performance.now() - t;
  t = performance.now();
  for (let after = 0; ; ) { const ev = await store.listBuildEvents(1, after, 64); if (!ev.length) break; for (const e of ev) JSON.parse(e.json); after = ev.at(-1)!.seq; }
  const parse = performance.now() - t - read;
  t = performance.now();
  const idx = new BuildLogIndex(store, 1);
  await idx.update();
  console.log({ n, mb: bytes / 2 ** 20, readMs: read.toFixed(0), parseMs: parse.toFixed(0), indexMs: (performance.now() - t).toFixed(0) });
}
await store.close();
