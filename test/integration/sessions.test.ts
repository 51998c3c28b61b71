// Agent sessions under stress: authentication, TLS, broken connections, a hub restart, lost agents,
// unanswered assignments and stale leases.

import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import {
  Platform,
  PoolAdmission_Verdict,
  StepStatus,
  type ProtocolVersion,
} from '../../proto/gen/outpost/v1/agent.js';
import type { AgentSummary } from '../../hub/api/types.js';
import { REVOKED_KEPT } from '../../hub/gateway/session.js';
import {
  finalStatus,
  logText,
  readBuildEvents,
  restartTestHub,
  setPipeline,
  shellPipeline,
  startTestAgent,
  startTestHub,
  triggerJob,
  waitForEvents,
  type TestHub,
  scrapeMetrics,
} from '../support/harness.js';
import { rawAgent, rawPool, stdoutMessage, type RawAgent } from '../support/raw-agent.js';
import { startTcpProxy } from '../support/tcp-proxy.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function hubFor(overrides: Parameters<typeof startTestHub>[0] = {}): Promise<TestHub> {
  const hub = await startTestHub(overrides);
  cleanups.push(() => hub.close());
  return hub;
}

/** The agent side's heartbeats, every `ms` until the test ends. */
function heartbeatEvery(raw: RawAgent, ms: number): void {
  let seq = 0;
  const beat = setInterval(
    () => raw.send({ msg: { $case: 'heartbeat', value: { seq: ++seq, sentAtUnixMs: Date.now() } } }),
    ms,
  );
  cleanups.push(() => clearInterval(beat));
}

/** A protocol agent named `name`, welcomed, and the Assign of the one-task build it then triggered. */
async function assignedAgent(hub: TestHub, name: string, script: string) {
  const raw = rawAgent(`127.0.0.1:${hub.grpcPort}`, await hub.newAgentToken(name), { agentName: name });
  cleanups.push(() => raw.close());
  await raw.next('welcome');
  await setPipeline(hub, 'p', shellPipeline(script));
  const buildId = await triggerJob(hub, 'p', 'job');
  return { raw, buildId, assign: await raw.next('assign') };
}

async function agentFor(hub: TestHub, opts: Parameters<typeof startTestAgent>[1] = {}) {
  const agent = await startTestAgent(hub, opts);
  cleanups.push(() => agent.stop());
  return agent;
}

describe('agent authentication', () => {
  it('rejects a missing, wrong or revoked token with UNAUTHENTICATED and keeps serving others', async () => {
    const hub = await hubFor();
    const address = `127.0.0.1:${hub.grpcPort}`;
    for (const token of ['', 'opa_not-a-real-token', hub.adminToken]) {
      const raw = rawAgent(address, token);
      expect((await raw.ended).code).toBe(GrpcStatus.UNAUTHENTICATED);
      raw.close();
    }
    const created = await hub.api<{ id: number; token: string }>('POST', '/agent-tokens', {
      name: 'soon-revoked',
    });
    expect((await hub.api('DELETE', `/agent-tokens/${created.body.id}`)).status).toBe(204);
    const revoked = rawAgent(address, created.body.token);
    expect((await revoked.ended).code).toBe(GrpcStatus.UNAUTHENTICATED);
    revoked.close();

    const tokens = await hub.api<{ name: string; revokedAt: number | null }[]>('GET', '/agent-tokens');
    expect(tokens.body.find((t) => t.name === 'soon-revoked')?.revokedAt).not.toBeNull();
    expect(JSON.stringify(tokens.body)).not.toContain(created.body.token);

    const agent = await agentFor(hub);
    await agent.welcomed;
    await setPipeline(hub, 'p', shellPipeline('echo still fine'));
    expect(logText(await readBuildEvents(hub, await triggerJob(hub, 'p', 'job')))).toBe('still fine\n');
    const metrics = await scrapeMetrics(hub);
    expect(metrics).toMatch(/outpost_hub_agent_auth_failures_total 4/);
  });

  it('refuses an unknown protocol version with FAILED_PRECONDITION', async () => {
    const hub = await hubFor();
    const raw = rawAgent(`127.0.0.1:${hub.grpcPort}`, await hub.newAgentToken(), {
      protocolVersion: 99 as unknown as ProtocolVersion,
    });
    const ended = await raw.ended;
    expect(ended.code).toBe(GrpcStatus.FAILED_PRECONDITION);
    expect(ended.details).toContain('unsupported protocol version 99');
    raw.close();
  });
});

describe('TLS', () => {
  const fixtures = path.join(import.meta.dirname, '../fixtures/tls');

  it('connects an agent that trusts the hub CA and refuses one that does not', async () => {
    const hub = await hubFor({
      tls: { certFile: path.join(fixtures, 'hub.pem'), keyFile: path.join(fixtures, 'hub.key') },
    });
    const trusting = await agentFor(hub, {
      name: 'trusting',
      address: `localhost:${hub.grpcPort}`,
      tls: `    ca_file: ${path.join(fixtures, 'ca.pem')}`,
    });
    await trusting.welcomed;
    await setPipeline(hub, 'p', shellPipeline('echo over tls'));
    expect(logText(await readBuildEvents(hub, await triggerJob(hub, 'p', 'job')))).toBe('over tls\n');

    // Verification is on by default: the system roots do not know the test CA.
    const doubting = await agentFor(hub, {
      name: 'doubting',
      address: `localhost:${hub.grpcPort}`,
      tls: '    {}',
    });
    const [failure] = (await once(doubting.session.events, 'failure')) as [Error];
    expect(failure.message).toMatch(/not trusted .*set hub.tls.ca_file/);
    const agents = await hub.api<{ name: string }[]>('GET', '/agents');
    expect(agents.body.map((a) => a.name)).toEqual(['test/trusting']);
  });
});

describe('broken connections', () => {
  it('runs a step elsewhere when its agent restarts between accepting and starting it', async () => {
    const hub = await hubFor({ heartbeatMs: 200 });
    const pools = [rawPool('p')];
    const token = await hub.newAgentToken('raw');
    const first = rawAgent(`127.0.0.1:${hub.grpcPort}`, token, { agentName: 'flaky', pools });
    cleanups.push(() => first.close());
    await first.next('welcome');
    await setPipeline(hub, 'again', shellPipeline('echo ran once'));
    const id = await triggerJob(hub, 'again', 'job');
    const { leaseId } = await first.next('assign');
    // Accepted, then the agent process dies before the step's process started (no StepStarted).
    first.send({ msg: { $case: 'accepted', value: { leaseId } } });
    await waitForEvents(hub, id, 'selected-worker');
    first.close();
    // It comes back without the step: nothing ran, so the hub queues it again instead of erroring it.
    const second = rawAgent(`127.0.0.1:${hub.grpcPort}`, token, {
      agentName: 'flaky',
      pools: [{ ...pools[0]!, tags: ['elsewhere'] }],
    });
    cleanups.push(() => second.close());
    await second.next('welcome');
    const agent = await agentFor(hub);
    await agent.welcomed;
    const events = await readBuildEvents(hub, id);
    expect(finalStatus(events)).toBe('succeeded');
    expect(logText(events)).toBe('ran once\n');
    expect(events.filter((e) => e.event === 'error')).toEqual([]);
  });

  it('delivers every log line exactly once, in order, across repeated connection cuts', async () => {
    const hub = await hubFor({ heartbeatMs: 200 });
    const proxy = await startTcpProxy(hub.grpcPort);
    cleanups.push(() => proxy.close());
    const agent = await agentFor(hub, { address: `127.0.0.1:${proxy.port}` });
    await agent.welcomed;
    await setPipeline(
      hub,
      'lines',
      shellPipeline(
        'i=1; while [ $i -le 3000 ]; do echo "line $i"; i=$((i+1)); if [ $((i % 300)) -eq 0 ]; then sleep 0.05; fi; done',
      ),
    );
    const id = await triggerJob(hub, 'lines', 'job');
    await waitForEvents(hub, id, 'line 1\\n');
    for (let cut = 1; cut <= 3; cut++) {
      proxy.cut();
      await proxy.waitForAccepted(cut + 1);
    }
    const events = await readBuildEvents(hub, id);
    const lines = logText(events).trimEnd().split('\n');
    expect(lines).toHaveLength(3000);
    expect(lines.every((line, i) => line === `line ${i + 1}`)).toBe(true);
    expect(finalStatus(events)).toBe('succeeded');
    expect(events.filter((e) => e.event === 'start-task')).toHaveLength(1);
  });

  it('delivers 100,000 numbered lines complete and in order through cuts, delays and stalls', async () => {
    const hub = await hubFor({ heartbeatMs: 200 });
    const proxy = await startTcpProxy(hub.grpcPort);
    cleanups.push(() => proxy.close());
    const agent = await agentFor(hub, { address: `127.0.0.1:${proxy.port}` });
    await agent.welcomed;
    // 100 bursts of 1,000 lines, so the faults below land while the step is still printing.
    await setPipeline(
      hub,
      'many',
      shellPipeline(
        'i=0; while [ $i -lt 100 ]; do seq -f "line %.0f" $((i*1000+1)) $((i*1000+1000)); i=$((i+1)); sleep 0.02; done',
      ),
    );
    const id = await triggerJob(hub, 'many', 'job');
    await waitForEvents(hub, id, 'line 1000\\n');
    proxy.setDelay(20);
    proxy.stall(300);
    proxy.cut();
    await proxy.waitForAccepted(2);
    proxy.setDelay(0);
    await waitForEvents(hub, id, 'line 50000\\n');
    proxy.cut();
    await proxy.waitForAccepted(3);
    proxy.stall(300);
    const events = await readBuildEvents(hub, id);
    const lines = logText(events).trimEnd().split('\n');
    expect(lines).toHaveLength(100_000);
    expect(lines.every((line, i) => line === `line ${i + 1}`)).toBe(true);
    expect(finalStatus(events)).toBe('succeeded');
    // One run of the step: started once, on one lease.
    expect(events.filter((e) => e.event === 'start-task')).toHaveLength(1);
    expect((await hub.store.listStepRuns(id)).map((r) => r.status)).toEqual(['succeeded']);
  }, 60_000);

  /**
   * A hub with one agent running a step that prints "before" and then blocks on a FIFO until `open()`
   * writes to it, then runs `after` (a shell snippet).
   */
  async function gatedStep(name: string, after: string) {
    const state = { hub: await startTestHub({ heartbeatMs: 200 }) };
    const agent = await startTestAgent(state.hub);
    cleanups.push(async () => {
      await agent.stop();
      await state.hub.close();
    });
    await agent.welcomed;
    const gate = path.join(agent.dir, 'gate');
    execFileSync('mkfifo', [gate]);
    await setPipeline(
      state.hub,
      name,
      shellPipeline(`echo before; read _ < "$GATE"; ${after}`, `    params: { GATE: ${gate} }\n`),
    );
    const id = await triggerJob(state.hub, name, 'job');
    await waitForEvents(state.hub, id, 'before\\n');
    return { state, agent, id, open: () => writeFile(gate, 'go\n') };
  }

  it('resumes a running step after a hub restart', async () => {
    const { state, id, open } = await gatedStep('restart', 'echo after');
    await state.hub.stop();
    state.hub = await restartTestHub(state.hub);
    await open();

    const events = await readBuildEvents(state.hub, id);
    expect(logText(events)).toBe('before\nafter\n');
    expect(finalStatus(events)).toBe('succeeded');
  });

  it('delivers a result and its last log lines that came while the hub was down', async () => {
    const { state, agent, id, open } = await gatedStep('outage', 'echo during the outage; exit 4');
    await state.hub.stop();
    await open();
    // The step ends while no hub is there: the agent holds its log and result until one comes back.
    while (agent.runner.heldSteps()[0]?.finished === undefined) await once(agent.session.events, 'failure');
    state.hub = await restartTestHub(state.hub);

    const events = await readBuildEvents(state.hub, id);
    expect(logText(events)).toBe('before\nduring the outage\n');
    expect(events.find((e) => e.event === 'finish-task')?.data.exit_status).toBe(4);
    expect(finalStatus(events)).toBe('failed');
  });

  it('errors a step whose agent stays away past the grace, saying why', async () => {
    // A grace and heartbeats a loaded machine's stalls do not outlast (300 ms and 100 ms did: the session
    // broke and the lease expired before the step printed): only the agent's stop ends this step.
    const hub = await hubFor({ leaseGraceMs: 3_000, heartbeatMs: 500 });
    const agent = await startTestAgent(hub);
    await agent.welcomed;
    await setPipeline(hub, 'lost', shellPipeline('echo working; exec sleep 600'));
    const id = await triggerJob(hub, 'lost', 'job');
    await waitForEvents(hub, id, 'working\\n');
    await agent.stop();
    const events = await readBuildEvents(hub, id);
    expect(events.find((e) => e.event === 'error')?.data.message).toBe(
      'agent "test/agent-1" disconnected and did not come back within the grace period',
    );
    expect(finalStatus(events)).toBe('errored');
    const agents = await hub.api<{ name: string; state: string }[]>('GET', '/agents');
    expect(agents.body).toEqual([expect.objectContaining({ name: 'test/agent-1', state: 'disconnected' })]);
  });
});

describe('slow handshakes', () => {
  it('keeps a session whose Welcome came more than three heartbeats after its Hello', async () => {
    const heartbeatMs = 500;
    const hub = await hubFor({ heartbeatMs });
    // The store records the agent only after four heartbeat intervals (a loaded host, a store busy with
    // what a hub restart left): the agent could not be heard meanwhile, since the hub was not reading.
    const upsertAgent = hub.store.upsertAgent.bind(hub.store);
    hub.store.upsertAgent = async (agent) => {
      await sleep(4 * heartbeatMs);
      return upsertAgent(agent);
    };
    const raw = rawAgent(hub.grpcAddress, await hub.newAgentToken('slow'), { agentName: 'slow' });
    cleanups.push(() => raw.close());
    await raw.next('welcome');
    // The agent may say nothing for up to three heartbeats after its Welcome: it waits for the hub's first
    // heartbeat, then beats often.
    await Promise.race([raw.next('heartbeat'), raw.ended]);
    heartbeatEvery(raw, heartbeatMs / 5);
    // The hub's third heartbeat arrives: the session lives. (Its silence was counted from the Hello, so the
    // hub ended it at its first heartbeat check; the agent came back, again slowly, and so on.)
    const lived = await Promise.race([
      raw.next('heartbeat', (h) => h.seq >= 3).then(() => 'lived'),
      raw.ended.then((end) => `ended: ${end.details}`),
    ]);
    expect(lived).toBe('lived');
  });
});

describe('heartbeats', () => {
  it("keeps a session across a stall of the hub's own event loop longer than three heartbeats", async () => {
    const heartbeatMs = 200;
    const hub = await hubFor({ heartbeatMs });
    const raw = rawAgent(hub.grpcAddress, await hub.newAgentToken('steady'), { agentName: 'steady' });
    cleanups.push(() => raw.close());
    await raw.next('welcome');
    heartbeatEvery(raw, heartbeatMs / 5);
    const before = await raw.next('heartbeat');
    // The hub (in this process) is busy for five heartbeat intervals: it reads nothing meanwhile, so the
    // agent's heartbeats wait in the socket. Busy in the event loop's check phase, its timers run next,
    // before the reads. (Judged before reading them, the session ended.)
    await new Promise<void>((resolve) =>
      setImmediate(() => {
        const until = Date.now() + 5 * heartbeatMs;
        while (Date.now() < until);
        resolve();
      }),
    );
    const lived = await Promise.race([
      raw.next('heartbeat', (h) => h.seq >= before.seq + 4).then(() => 'lived'),
      raw.ended.then((end) => `ended: ${end.details}`),
    ]);
    expect(lived).toBe('lived');
  });
});

describe('leases', () => {
  it('re-queues an assignment that is not accepted in time to another agent', async () => {
    const hub = await hubFor({ acceptWithinMs: 300 });
    const { raw: silent, buildId: id, assign } = await assignedAgent(hub, 'silent', 'echo ran once');
    const real = await agentFor(hub);
    await real.welcomed;
    const revoked = await silent.next('leaseRevoked', (r) => r.leaseId === assign.leaseId);
    expect(revoked.reason).toBe('not accepted in time');

    const events = await readBuildEvents(hub, id);
    expect(logText(events)).toBe('ran once\n');
    // Offered to the silent agent first, run (once) by the real one. How many offers come between
    // depends on the machine's speed: a missed offer passes an agent over only for acceptWithinMs, so the
    // silent one may be offered the step again while the real one starts, and a loaded real one may
    // itself miss an offer within those 300 ms.
    const workers = events.filter((e) => e.event === 'selected-worker').map((e) => e.data.selected_worker);
    expect(workers[0]).toBe('test/silent');
    expect(workers.at(-1)).toBe('test/agent-1');
    expect(new Set(workers)).toEqual(new Set(['test/silent', 'test/agent-1']));
    expect(events.filter((e) => e.event === 'start-task')).toHaveLength(1);
    // A late Accepted from the first agent is refused: the step never runs twice.
    silent.send({ msg: { $case: 'accepted', value: { leaseId: assign.leaseId } } });
    silent.send(stdoutMessage(assign.leaseId, 1, Buffer.from('ghost\n'), Date.now()));
    // The session handles messages in order: once a probe is answered, the two above were handled.
    silent.send(stdoutMessage('probe', 1, Buffer.from('x')));
    await silent.next('leaseRevoked', (r) => r.leaseId === 'probe');
    expect(logText(await readBuildEvents(hub, id))).toBe('ran once\n');
  });

  it('offers the step again, later, to the only agent after it let an offer expire', async () => {
    const hub = await hubFor({ acceptWithinMs: 300 });
    const { raw: slow, assign: first } = await assignedAgent(hub, 'slow', 'echo hi');
    await slow.next('leaseRevoked', (r) => r.leaseId === first.leaseId);
    // The agent stays connected and idle: the step must not wait for ever on "rejected by every agent".
    const again = await slow.next('assign', (a) => a.leaseId !== first.leaseId);
    expect(again.spec?.run?.path).toBe(first.spec?.run?.path);
  });

  it('tells an agent once that a lease is revoked, however many late messages name it', async () => {
    const hub = await hubFor({ acceptWithinMs: 300 });
    const {
      raw: late,
      assign: { leaseId },
    } = await assignedAgent(hub, 'late', 'echo hi');
    await late.next('leaseRevoked', (r) => r.leaseId === leaseId);
    // The agent read its Assign late and acts on it: each message names a lease the hub already revoked.
    late.send({ msg: { $case: 'accepted', value: { leaseId } } });
    late.send({ msg: { $case: 'started', value: { leaseId, atUnixMs: Date.now() } } });
    late.send(stdoutMessage(leaseId, 1, Buffer.from('late\n'), Date.now()));
    // The session handles messages in order: once a probe is answered, the three above were handled.
    late.send(stdoutMessage('probe', 1, Buffer.from('x')));
    await late.next('leaseRevoked', (r) => r.leaseId === 'probe');
    const revoked = late.received.filter(
      (m) => m.msg?.$case === 'leaseRevoked' && m.msg.value.leaseId === leaseId,
    );
    expect(revoked).toHaveLength(1);
  });

  it('remembers the latest revoked leases only, telling the agent again of one it forgot', async () => {
    const hub = await hubFor();
    const raw = rawAgent(`127.0.0.1:${hub.grpcPort}`, await hub.newAgentToken());
    cleanups.push(() => raw.close());
    await raw.next('welcome');
    for (let i = 0; i <= REVOKED_KEPT; i++) raw.send(stdoutMessage(`gone-${i}`, 1, Buffer.from('x')));
    await raw.next('leaseRevoked', (r) => r.leaseId === `gone-${REVOKED_KEPT}`);
    // gone-0 was forgotten when gone-1024 was revoked; gone-1 is still remembered.
    raw.send(stdoutMessage('gone-1', 2, Buffer.from('x')));
    raw.send(stdoutMessage('gone-0', 2, Buffer.from('x')));
    raw.send(stdoutMessage('probe', 1, Buffer.from('x')));
    await raw.next('leaseRevoked', (r) => r.leaseId === 'probe');
    const told = (id: string) =>
      raw.received.filter((m) => m.msg?.$case === 'leaseRevoked' && m.msg.value.leaseId === id).length;
    expect([told('gone-0'), told('gone-1')]).toEqual([2, 1]);
  });

  it('answers messages about an unknown lease with LeaseRevoked', async () => {
    const hub = await hubFor();
    const raw = rawAgent(`127.0.0.1:${hub.grpcPort}`, await hub.newAgentToken());
    cleanups.push(() => raw.close());
    await raw.next('welcome');
    raw.send(stdoutMessage('made-up', 1, Buffer.from('x')));
    expect((await raw.next('leaseRevoked')).leaseId).toBe('made-up');
  });

  it("emits a step's start once when its agent says Started again after a reconnect", async () => {
    const hub = await hubFor();
    const token = await hub.newAgentToken('again');
    const pools = [
      {
        name: 'p',
        platform: Platform.PLATFORM_LINUX,
        tags: ['again'],
        executor: 'process',
        capacity: 1,
        admission: undefined,
        builtinTypes: [],
        taskImages: false,
      },
    ];
    const first = rawAgent(`127.0.0.1:${hub.grpcPort}`, token, { agentName: 'again', pools });
    cleanups.push(() => first.close());
    await first.next('welcome');
    await setPipeline(hub, 'again', shellPipeline('true', '    tags: [again]\n'));
    const id = await triggerJob(hub, 'again', 'job');
    const { leaseId } = await first.next('assign');
    first.send({ msg: { $case: 'accepted', value: { leaseId } } });
    first.send({ msg: { $case: 'started', value: { leaseId, atUnixMs: Date.now() } } });
    await waitForEvents(hub, id, 'start-task');
    first.close();
    await first.ended;
    // The agent cannot know whether the hub read its Started before the cut: it says it again.
    const second = rawAgent(`127.0.0.1:${hub.grpcPort}`, token, {
      agentName: 'again',
      pools,
      held: [{ leaseId, ackedLogSeq: 0, finished: undefined }],
    });
    cleanups.push(() => second.close());
    const welcome = await second.next('welcome');
    expect(welcome.held).toEqual([expect.objectContaining({ leaseId, decision: 1 })]);
    second.send({ msg: { $case: 'started', value: { leaseId, atUnixMs: Date.now() } } });
    second.send(stdoutMessage(leaseId, 1, Buffer.from('hi\n')));
    second.send({
      msg: {
        $case: 'finished',
        value: {
          leaseId,
          status: StepStatus.STEP_STATUS_SUCCEEDED,
          atUnixMs: Date.now(),
          exitStatus: 0,
          error: '',
          lastLogSeq: 1,
          outputs: [],
          resourceResultJson: '',
        },
      },
    });
    const events = await readBuildEvents(hub, id);
    expect(finalStatus(events)).toBe('succeeded');
    expect(logText(events)).toBe('hi\n');
    expect(events.filter((e) => e.event === 'start-task')).toHaveLength(1);
  });

  it('tells a reconnecting agent to drop a lease the hub no longer holds', async () => {
    const hub = await hubFor();
    const raw = rawAgent(`127.0.0.1:${hub.grpcPort}`, await hub.newAgentToken(), {
      held: [{ leaseId: 'forgotten', ackedLogSeq: 0, finished: undefined }],
      pools: [rawPool('local')],
    });
    cleanups.push(() => raw.close());
    const welcome = await raw.next('welcome');
    expect(welcome.held).toEqual([expect.objectContaining({ leaseId: 'forgotten', decision: 2 })]);
  });
});

describe('pool admission', () => {
  it("keeps each kubernetes pool's admission verdict from the Hello and serves it on /agents", async () => {
    const hub = await hubFor();
    const pool = {
      platform: Platform.PLATFORM_LINUX,
      tags: [],
      executor: 'kubernetes',
      capacity: 1,
      builtinTypes: [],
      taskImages: false,
    };
    const refusal =
      'pods "outpost-admission-probe" is forbidden: failed quota: compute: must specify limits.cpu for: step';
    const raw = rawAgent(`127.0.0.1:${hub.grpcPort}`, await hub.newAgentToken(), {
      agentName: 'admitted',
      pools: [
        { ...pool, name: 'ok', admission: { verdict: PoolAdmission_Verdict.VERDICT_ADMITTED, message: '' } },
        {
          ...pool,
          name: 'quota',
          admission: { verdict: PoolAdmission_Verdict.VERDICT_REFUSED, message: refusal },
        },
        { ...pool, name: 'plain', executor: 'process', admission: undefined },
      ],
    });
    cleanups.push(() => raw.close());
    await raw.next('welcome');
    const agents = await hub.api<AgentSummary[]>('GET', '/agents');
    const pools = agents.body.find((a) => a.name.endsWith('admitted'))?.pools;
    expect(pools?.map((p) => [p.name, p.admission])).toEqual([
      ['ok', { verdict: 'admitted', message: '' }],
      ['quota', { verdict: 'refused', message: refusal }],
      ['plain', null],
    ]);
  });
});
