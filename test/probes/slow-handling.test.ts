// A busy agent is not a lost one. The hub handles an agent's messages one at a time; while one waits on a
// slow store write (here: a row lock another PostgreSQL client holds), the hub must still read the
// agent's heartbeats and keep its session. A message whose handling never ends (the lock is never let
// go) ends the session after the hub's message time limit with a reason, and the agent comes back.

import { status as GrpcStatus } from '@grpc/grpc-js';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { cleanupAfterEach } from '../support/cleanups.js';
import { eventually } from '../support/eventually.js';
import { startTestHub, type TestHub } from '../support/harness.js';
import { heartbeating, rawAgent, type RawAgent } from '../support/raw-agent.js';
import { postgresSkip, testPostgresOnce } from '../support/store-backends.js';

const unavailable = postgresSkip('slow message handling (a row lock held on PostgreSQL)');
const defer = cleanupAfterEach();
const HEARTBEAT_MS = 200;

describe.skipIf(unavailable !== undefined)('an agent whose message waits on a slow store write', () => {
  const server = testPostgresOnce();
  let databases = 0;

  async function hubOnPostgres(messageTimeoutMs: number): Promise<{ hub: TestHub; url: string }> {
    const url = await (await server()).createDatabase(`slow_handling_${++databases}`);
    const hub = await startTestHub({ databaseUrl: url, heartbeatMs: HEARTBEAT_MS, messageTimeoutMs });
    defer(() => hub.close());
    return { hub, url };
  }

  /** A welcomed protocol-level agent that heartbeats as a real one does. */
  async function busyAgent(hub: TestHub, token: string): Promise<RawAgent> {
    const raw = rawAgent(hub.grpcAddress, token, { agentName: 'busy' });
    defer(() => raw.close());
    await raw.next('welcome');
    defer(heartbeating(raw, HEARTBEAT_MS / 2));
    return raw;
  }

  /** Holds the agent's row locked (as a long transaction of another client would) until released. */
  async function lockAgentRow(url: string): Promise<{ release(): Promise<void> }> {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query('BEGIN');
    await client.query('SELECT 1 FROM agents WHERE name = $1 FOR UPDATE', ['test/busy']);
    let released = false;
    const release = async () => {
      if (released) return;
      released = true;
      await client.query('ROLLBACK');
      await client.end();
    };
    defer(release);
    return { release };
  }

  /** Resolves once the hub's write of the agent's state waits on the lock. */
  async function writeBlocked(url: string): Promise<void> {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await eventually('the hub to wait on the locked agent row', async () => {
        const { rows } = await client.query<{ n: string }>(
          "SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'update \"agents\"%'",
        );
        return Number(rows[0]?.n) > 0 ? true : undefined;
      });
    } finally {
      await client.end();
    }
  }

  /** Waits for `count` more of the hub's heartbeats; fails with the status if the session ends first. */
  async function hubHeartbeats(raw: RawAgent, count: number): Promise<void> {
    const start = raw.received.filter((m) => m.msg?.$case === 'heartbeat').length;
    const target = start + count;
    const beats = raw.next('heartbeat', () => {
      return raw.received.filter((m) => m.msg?.$case === 'heartbeat').length >= target;
    });
    const ended = raw.ended.then((s) => {
      throw new Error(`the session ended (${s.code}: ${s.details}) while its agent kept heartbeating`);
    });
    await Promise.race([beats, ended]);
  }

  it('keeps the session while a draining message waits on a locked row, then applies it', async () => {
    const { hub, url } = await hubOnPostgres(30_000);
    const raw = await busyAgent(hub, await hub.newAgentToken('busy'));
    const lock = await lockAgentRow(url);
    raw.send({ msg: { $case: 'draining', value: { reason: 'slow store probe' } } });
    await writeBlocked(url);

    // Ten of the hub's own heartbeat intervals pass with the write stuck: over three, a session whose
    // stream went unread was ended as "missed heartbeats" though its agent sent every one.
    await hubHeartbeats(raw, 10);

    await lock.release();
    await eventually('the agent to show as draining', async () => {
      const agents = await hub.api<{ name: string; state: string }[]>('GET', '/agents');
      return agents.body.find((a) => a.name === 'test/busy')?.state === 'draining' ? true : undefined;
    });
    expect(raw.received.filter((m) => m.msg?.$case === 'goAway')).toEqual([]);
    await hubHeartbeats(raw, 2);
  }, 60_000);

  it('ends a session whose message is never handled after the time limit, naming it; the agent comes back', async () => {
    const { hub, url } = await hubOnPostgres(1_000);
    const token = await hub.newAgentToken('busy');
    const raw = await busyAgent(hub, token);
    const lock = await lockAgentRow(url);
    raw.send({ msg: { $case: 'draining', value: { reason: 'slow store probe' } } });
    await writeBlocked(url);

    const ended = await raw.ended;
    expect(ended.code).toBe(GrpcStatus.UNAVAILABLE);
    expect(ended.details).toBe(
      'the hub took over 1000 ms to handle a draining message of this session; reconnect and send it again',
    );
    await lock.release();
    const again = rawAgent(hub.grpcAddress, token, { agentName: 'busy' });
    defer(() => again.close());
    await again.next('welcome');
  }, 60_000);
});
