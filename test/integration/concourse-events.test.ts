// Every event a build's stream carries is one fly accepts: Concourse's type, at the version Concourse
// emits it, with the payload fields of Concourse's struct (atc/event/events.go, transcribed below on
// its own so the hub's table is checked against it, not against itself). One real job build (get, task,
// put, load_var, an erroring task, the pending note) and one check build are streamed through the API.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT_VERSIONS } from '../../hub/events/build-events.js';
import type { BuildSummary } from '../../hub/api/types.js';
import { eventually } from '../support/eventually.js';
import {
  readBuildEvents,
  setPipeline,
  startTestAgent,
  startTestHub,
  triggerJob,
  type TestHub,
} from '../support/harness.js';

type Kind = 'string' | 'number' | 'boolean' | 'object' | 'array';

/** Concourse's event types: version and the fields its struct always serializes (not `omitempty`). */
const CONCOURSE: Record<string, { version: string; fields: Record<string, Kind> }> = {
  status: { version: '1.0', fields: { status: 'string', time: 'number' } },
  log: { version: '5.1', fields: { time: 'number', origin: 'object', payload: 'string' } },
  error: { version: '4.1', fields: { message: 'string', origin: 'object', time: 'number' } },
  'initialize-task': { version: '4.0', fields: { time: 'number', origin: 'object', config: 'object' } },
  'start-task': { version: '5.0', fields: { time: 'number', origin: 'object', config: 'object' } },
  'finish-task': { version: '4.0', fields: { time: 'number', exit_status: 'number', origin: 'object' } },
  'waiting-for-worker': { version: '1.0', fields: { time: 'number', origin: 'object' } },
  'selected-worker': {
    version: '1.0',
    fields: { time: 'number', origin: 'object', selected_worker: 'string' },
  },
  'streaming-volume': { version: '1.0', fields: { time: 'number', origin: 'object' } },
  'waiting-for-streamed-volume': { version: '1.0', fields: { time: 'number', origin: 'object' } },
  'initialize-check': { version: '1.0', fields: { origin: 'object', name: 'string' } },
  'initialize-get': { version: '2.0', fields: { origin: 'object' } },
  'start-get': { version: '1.0', fields: { origin: 'object' } },
  'finish-get': {
    version: '5.1',
    fields: { origin: 'object', time: 'number', exit_status: 'number', version: 'object' },
  },
  'initialize-put': { version: '2.0', fields: { origin: 'object' } },
  'start-put': { version: '1.0', fields: { origin: 'object' } },
  'finish-put': {
    version: '5.1',
    fields: { origin: 'object', time: 'number', exit_status: 'number', version: 'object' },
  },
  'set-pipeline-changed': { version: '1.0', fields: { origin: 'object', changed: 'boolean' } },
  initialize: { version: '1.0', fields: { origin: 'object' } },
  start: { version: '1.0', fields: { origin: 'object' } },
  finish: { version: '1.0', fields: { origin: 'object', time: 'number', succeeded: 'boolean' } },
  'image-check': { version: '1.1', fields: { time: 'number', origin: 'object', plan: 'object' } },
  'image-get': { version: '1.1', fields: { time: 'number', origin: 'object', plan: 'object' } },
  'across-substeps': { version: '1.0', fields: { time: 'number', origin: 'object', substeps: 'array' } },
};

/** Concourse's event.TaskConfig, the `config` of initialize-task and start-task. */
const TASK_CONFIG: Record<string, Kind> = {
  platform: 'string',
  image: 'string',
  run: 'object',
  inputs: 'array',
};

function kindOf(value: unknown): Kind | 'other' {
  if (Array.isArray(value)) return 'array';
  const t = typeof value;
  return t === 'string' || t === 'number' || t === 'boolean' || (t === 'object' && value !== null)
    ? t
    : 'other';
}

/** What is wrong with an envelope for a Concourse reader; empty when nothing. */
function problems(envelope: { event: string; version: string; data: Record<string, unknown> }): string[] {
  const spec = CONCOURSE[envelope.event];
  if (!spec) return [`${envelope.event}: not a Concourse event type`];
  const out: string[] = [];
  if (envelope.version !== spec.version)
    out.push(`${envelope.event}: version ${envelope.version}, Concourse's is ${spec.version}`);
  const check = (data: Record<string, unknown>, fields: Record<string, Kind>, where: string) => {
    for (const [field, kind] of Object.entries(fields))
      if (kindOf(data[field]) !== kind)
        out.push(`${where}.${field}: ${JSON.stringify(data[field])}, not ${kind}`);
  };
  check(envelope.data, spec.fields, envelope.event);
  const origin = envelope.data.origin as Record<string, unknown> | undefined;
  if (origin?.id !== undefined && typeof origin.id !== 'string') out.push(`${envelope.event}.origin.id`);
  if (envelope.event.endsWith('-task'))
    if (envelope.event !== 'finish-task')
      check(envelope.data.config as Record<string, unknown>, TASK_CONFIG, `${envelope.event}.config`);
  return out;
}

describe("Concourse's event table", () => {
  it('gives every type the hub emits the version Concourse emits it at', () => {
    const wrong = Object.entries(EVENT_VERSIONS).filter(([type, v]) => CONCOURSE[type]?.version !== v);
    expect(wrong).toEqual([]);
  });

  it('finds what a Concourse reader would reject', () => {
    expect(problems({ event: 'pending', version: '1.0', data: {} })).toEqual([
      'pending: not a Concourse event type',
    ]);
    expect(problems({ event: 'finish-get', version: '1.0', data: { origin: { id: 'x' }, time: 1 } })).toEqual(
      [
        "finish-get: version 1.0, Concourse's is 5.1",
        'finish-get.exit_status: undefined, not number',
        'finish-get.version: undefined, not object',
      ],
    );
  });
});

describe('a build streamed through the API', () => {
  let hub: TestHub;
  let agent: Awaited<ReturnType<typeof startTestAgent>>;

  beforeAll(async () => {
    hub = await startTestHub({ checkTickMs: 200, scheduleTickMs: 500 });
    agent = await startTestAgent(hub, {
      name: 'agent-1',
      pools: '  - name: local\n    platform: linux\n    capacity: 4',
    });
    await agent.welcomed;
  }, 60_000);

  afterAll(async () => {
    await agent.stop();
    await hub.close();
  });

  const finished = (id: number) =>
    eventually(`build ${id} to finish`, async () => {
      const res = await hub.api<BuildSummary>('GET', `/builds/${id}`);
      return ['pending', 'started'].includes(res.body.status) ? undefined : res.body;
    });

  it('carries only Concourse events, get, put, check and pending notes included', async () => {
    await setPipeline(
      hub,
      'events',
      `resources:
- name: r
  type: mock
  check_every: never
  source: { initial_version: v1, metadata: [{ name: m, value: x }] }
- name: out
  type: mock
  check_every: never
  source: {}
jobs:
- name: j
  plan:
  - get: r
  - task: show
    config:
      platform: linux
      inputs: [{ name: r }]
      run: { path: sh, args: [-c, 'cat r/version'] }
  - put: out
    params: { version: pushed }
  - load_var: v
    file: r/version
  - task: broken
    config: { platform: linux, run: { path: /nonexistent/command } }
`,
    );
    const id = await triggerJob(hub, 'events', 'j');
    expect((await finished(id)).status).toBe('errored');
    const events = await readBuildEvents(hub, id);
    const check = await hub.api<BuildSummary>('POST', '/teams/main/pipelines/events/resources/r/check', {});
    await finished(check.body.id);
    const checkEvents = await readBuildEvents(hub, check.body.id);

    const all = [...events, ...checkEvents];
    expect(all.flatMap((e) => problems(e as Parameters<typeof problems>[0]))).toEqual([]);
    const types = new Set(all.map((e) => e.event));
    for (const type of [
      'status',
      'log',
      'error',
      'initialize-task',
      'start-task',
      'finish-task',
      'selected-worker',
      'initialize-get',
      'start-get',
      'finish-get',
      'initialize-put',
      'start-put',
      'finish-put',
      'initialize-check',
      'initialize',
      'start',
      'finish',
    ])
      expect(types, type).toContain(type);
    // The pending note is a log of no step; the get's and put's versions are the resource's.
    expect(events.some((e) => e.event === 'log' && String(e.data.payload).startsWith('pending: '))).toBe(
      true,
    );
    const finishGet = events.find((e) => e.event === 'finish-get');
    expect(finishGet?.data).toMatchObject({
      version: { version: 'v1' },
      metadata: [{ name: 'm', value: 'x' }],
    });
    expect(events.find((e) => e.event === 'finish-put')?.data).toMatchObject({
      version: { version: 'pushed' },
    });
    expect(checkEvents.find((e) => e.event === 'finish')?.data).toMatchObject({ succeeded: true });
  }, 120_000);
});
