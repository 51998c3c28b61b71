import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../store/sqlite.js';
import type { AgentRecord, Store } from '../store/store.js';
import { HeartbeatTouches } from './heartbeat-touches.js';

const agent = (name: string): AgentRecord => ({
  name,
  cluster: 'eu',
  version: '0.1.0',
  pools: [],
  state: 'connected',
  tokenId: null,
  connectedAt: 10,
  lastHeartbeatAt: 10,
  sessionId: `s-${name}`,
  replicaUrl: null,
});

describe('HeartbeatTouches', () => {
  let store: Store;
  let now = 0;
  let touches: HeartbeatTouches;

  beforeEach(async () => {
    store = await openSqliteStore({ memory: true });
    // Far beyond the test: only the explicit flushes write.
    touches = new HeartbeatTouches(store, () => now, pino({ level: 'silent' }), 3_600_000);
  });
  afterEach(async () => {
    touches.stop();
    await store.close();
  });

  it('records every agent heard from since the last flush at the flush time, and no other', async () => {
    // More agents than one statement names: every one is written.
    const names = Array.from({ length: 1_201 }, (_, i) => `agent-${i}`);
    for (const name of [...names, 'silent']) await store.upsertAgent(agent(name));

    for (const name of names) touches.touch(name);
    touches.touch(names[0] ?? '');
    now = 20;
    await touches.flush();
    const after = await store.listAgents();
    expect(after.filter((a) => a.lastHeartbeatAt === 20)).toHaveLength(names.length);
    expect(after.find((a) => a.name === 'silent')?.lastHeartbeatAt).toBe(10);

    // A flush writes only what was touched since the one before.
    touches.touch('agent-7');
    now = 30;
    await touches.flush();
    expect((await store.getAgent('agent-7'))?.lastHeartbeatAt).toBe(30);
    expect((await store.getAgent('agent-8'))?.lastHeartbeatAt).toBe(20);
  });
});
