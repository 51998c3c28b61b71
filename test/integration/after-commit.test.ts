// The hub's reads see writes still waiting in SQLite's commit batch (hub/store/commit-batch.ts), so
// nothing built from a read may leave the hub before the store has committed: an API answer, a build's
// event stream, a message to an agent. Here the store reports writes as uncommitted and holds its
// commit until the test lets it go: each of those must wait for it, and then leave.

import { afterEach, beforeEach, expect, it } from 'vitest';
import { rawAgent, rawPool } from '../support/raw-agent.js';
import { setPipeline, shellPipeline, startTestHub, triggerJob, type TestHub } from '../support/harness.js';

let hub: TestHub;

beforeEach(async () => {
  hub = await startTestHub();
});

afterEach(async () => {
  await hub.close();
});

/**
 * From now on the store says writes wait for their commit, and holds that commit until `commit()`.
 * `asked` resolves when an outward path first checks.
 */
function holdCommits() {
  const store = hub.store as Pick<TestHub['store'], 'uncommitted' | 'durable' | 'whenDurable'>;
  const { uncommitted, durable, whenDurable } = store;
  let ask!: () => void;
  const asked = new Promise<'asked'>((resolve) => (ask = () => resolve('asked')));
  let commit!: () => void;
  const committed = new Promise<void>((resolve) => (commit = resolve));
  store.uncommitted = () => {
    ask();
    return true;
  };
  store.durable = () => committed.then(durable);
  store.whenDurable = (then) => void committed.then(then);
  return {
    asked,
    commit: () => {
      store.uncommitted = uncommitted;
      store.durable = durable;
      store.whenDurable = whenDurable;
      commit();
    },
  };
}

it('answers an API call only once the store has committed', async () => {
  const held = holdCommits();
  const answer = hub.api('GET', '/teams/main/pipelines').then(() => 'answered' as const);
  expect(await Promise.race([answer, held.asked])).toBe('asked');
  held.commit();
  expect(await answer).toBe('answered');
});

it("holds a build's event stream until the store has committed", async () => {
  await setPipeline(hub, 'p', shellPipeline('true'));
  const buildId = await triggerJob(hub, 'p', 'job');
  const held = holdCommits();
  const opened = fetch(`${hub.url}/api/v1/builds/${buildId}/events`, {
    headers: { authorization: `Bearer ${hub.adminToken}` },
  }).then((res) => res);
  expect(await Promise.race([opened.then(() => 'opened' as const), held.asked])).toBe('asked');
  held.commit();
  const res = await opened;
  expect(res.status).toBe(200);
  await res.body?.cancel();
});

it('sends an agent nothing before the store has committed, and then everything in order', async () => {
  const token = await hub.newAgentToken();
  const held = holdCommits();
  const agent = rawAgent(`127.0.0.1:${hub.grpcPort}`, token, { pools: [rawPool('linux')] });
  try {
    const welcome = agent.next('welcome').then(() => 'welcomed' as const);
    expect(await Promise.race([welcome, held.asked])).toBe('asked');
    expect(agent.received).toEqual([]);
    held.commit();
    expect(await welcome).toBe('welcomed');
    expect(agent.received[0]?.msg?.$case).toBe('welcome');
  } finally {
    agent.close();
  }
});
