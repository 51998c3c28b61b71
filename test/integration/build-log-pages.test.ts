// A build's log read in pages (GET /builds/:id/events/page) and as raw text (GET /builds/:id/log), as
// the web UI reads a long log: the newest events first, then the rest forward, without gaps or repeats,
// each page within its byte budget; and the raw text equal to what the step printed.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningAgent } from '../../agent/agent.js';
import type { BuildEventPage, BuildStep } from '../../hub/api/types.js';
import {
  readBuildEvents,
  setPipeline,
  shellPipeline,
  startTestAgent,
  startTestHub,
  triggerJob,
  type TestHub,
} from '../support/harness.js';

/** About 4.7 MB in 64 KiB chunks: more than one page's 4 MiB budget. */
const LINES = 700_000;
const PRINTED = Array.from({ length: LINES }, (_, i) => `${i + 1}\n`).join('');

let hub: TestHub;
let agent: RunningAgent;
let buildId: number;

const get = async <T>(path: string) => {
  const res = await fetch(`${hub.url}/api/v1${path}`, {
    headers: { authorization: `Bearer ${hub.adminToken}` },
  });
  expect(res.status).toBe(200);
  return { res, body: (await (path.includes('/log') ? res.text() : res.json())) as T };
};

beforeAll(async () => {
  hub = await startTestHub();
  agent = await startTestAgent(hub);
  await setPipeline(hub, 'long', shellPipeline(`seq 1 ${LINES}`));
  buildId = await triggerJob(hub, 'long', 'job');
  // Read to the end: the build has finished and every event is stored.
  await readBuildEvents(hub, buildId);
}, 60_000);

afterAll(async () => {
  await agent.stop();
  await hub.close();
});

describe('build log pages', () => {
  it('reads the newest events first, then every event forward in pages within their budget', async () => {
    const tail = (await get<BuildEventPage>(`/builds/${buildId}/events/page?tail=true&limit=3`)).body.events;
    expect(tail).toHaveLength(3);
    expect(tail[2]).toMatchObject({ event: 'status', data: { status: 'succeeded' } });
    const last = tail[2]?.seq ?? 0;
    expect(tail.map((e) => e.seq)).toEqual([last - 2, last - 1, last]);

    const seqs: number[] = [];
    let payload = '';
    let pages = 0;
    for (let after = 0; after < last; pages++) {
      const { res, body } = await get<BuildEventPage>(
        `/builds/${buildId}/events/page?after=${after}&limit=1000`,
      );
      expect(res.headers.get('content-type')).toContain('application/json');
      const data = body.events.map((e) => JSON.stringify(e.data).length).reduce((a, b) => a + b, 0);
      // The budget is 4 MiB; one 64 KiB chunk (in JSON, escaped) may pass it.
      expect(data).toBeLessThan(4 * 1024 * 1024 + 2 * 64 * 1024);
      for (const e of body.events) {
        seqs.push(e.seq);
        if (e.event === 'log') payload += (e.data as { payload: string }).payload;
      }
      after = body.events.at(-1)?.seq ?? last;
    }
    expect(pages).toBeGreaterThan(1);
    expect(seqs).toEqual(Array.from({ length: last }, (_, i) => i + 1));
    expect(payload).toBe(PRINTED);
    const beyond = await get<BuildEventPage>(`/builds/${buildId}/events/page?after=${last}`);
    expect(beyond.body.events).toEqual([]);
  });

  it('serves the raw log of the build and of one step as text to download', async () => {
    const plan = (await get<BuildStep>(`/builds/${buildId}/plan`)).body;
    const task = plan.kind === 'task' ? plan : plan.children.find((c) => c.kind === 'task');
    const whole = await get<string>(`/builds/${buildId}/log`);
    expect(whole.res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(whole.res.headers.get('content-disposition')).toBe(`attachment; filename="long-job-1.log"`);
    expect(whole.body).toBe(PRINTED);
    const step = await get<string>(`/builds/${buildId}/log?step=${task?.id ?? ''}`);
    expect(step.body).toBe(PRINTED);
    expect((await get<string>(`/builds/${buildId}/log?step=no-such-step`)).body).toBe('');
  });
});
