// Old pipeline config versions may hold old credentials: the store keeps only the latest ones.

import { expect, it } from 'vitest';
import { openSqliteStore } from './sqlite.js';
import { CONFIG_VERSIONS_KEPT } from './store.js';

it(`keeps the latest ${CONFIG_VERSIONS_KEPT} config versions of a pipeline`, async () => {
  const store = await openSqliteStore({ memory: true });
  const main = await store.getTeam('main');
  let id = 0;
  for (let v = 1; v <= CONFIG_VERSIONS_KEPT + 3; v++)
    id = (await store.savePipeline({ teamId: main!.id, name: 'p', source: `# v${v}`, jobs: [], at: v }))
      .pipeline.id;
  const kept = [];
  for (let v = 1; v <= CONFIG_VERSIONS_KEPT + 3; v++) if (await store.getPipelineConfig(id, v)) kept.push(v);
  expect(kept).toEqual(Array.from({ length: CONFIG_VERSIONS_KEPT }, (_, i) => i + 4));
  expect((await store.getPipelineConfig(id))?.source).toBe(`# v${CONFIG_VERSIONS_KEPT + 3}`);
  await store.close();
});
