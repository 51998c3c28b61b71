// An operator reading the hub's log at start sees which database migrations it applied, by name, or
// that the schema was up to date.

import { afterEach, describe, expect, it } from 'vitest';
import { startHub } from '../../hub/hub.js';
import { capturingLogger, startTestHub, type TestHub } from '../support/harness.js';

const hubs: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const hub of hubs.splice(0).reverse()) await hub.close();
});

describe('migrations at start', () => {
  it('logs each migration applied by name, and on the next start that the schema is up to date', async () => {
    const first = capturingLogger();
    const hub: TestHub = await startTestHub({}, first.log);
    hubs.push(hub);
    const applied = first.lines.filter((l) => l.component === 'store' && typeof l.migration === 'string');
    expect(applied[0]).toMatchObject({ level: 30, migration: '0001_initial' });
    expect(applied[0]?.msg).toBe('database migration 0001_initial applied');
    const names = applied.map((l) => l.migration as string);
    expect(names).toEqual([...names].sort());
    expect(first.lines.some((l) => l.msg?.startsWith('schema up to date'))).toBe(false);

    await hub.stop();
    const again = capturingLogger();
    hubs.push(await startHub(hub.options, again.log));
    expect(again.lines.filter((l) => typeof l.migration === 'string')).toEqual([]);
    expect((await again.line('schema up to date')).msg).toBe(
      `schema up to date (${names.length} migrations)`,
    );
  });
});
