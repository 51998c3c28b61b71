// A build's log read in pages (GET /builds/:id/events/page) and as raw text (GET /builds/:id/log), as
// the web UI reads a long log: the newest events first, then the rest forward, without gaps or repeats,
// each page within its byte budget; any page from a given line of a step, with where that step's log
// stands at the page's start (line number, colours set above it); and the raw text equal to what the step
// printed.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningAgent } from '../../agent/agent.js';
import type { BuildEventPage, BuildStep, LogStart } from '../../hub/api/types.js';
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
let colourBuild: number;
let taskId: string;

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
  // Red set on the first line and reset on line 150002: the lines between are red, whichever page they
  // are read in.
  await setPipeline(
    hub,
    'colours',
    shellPipeline(`printf '\\033[1;31mred\\n'; seq 2 150001; printf '\\033[0mplain\\n'; seq 150003 250000`),
  );
  colourBuild = await triggerJob(hub, 'colours', 'job');
  await readBuildEvents(hub, colourBuild);
  const plan = (await get<BuildStep>(`/builds/${buildId}/plan`)).body;
  taskId = (plan.kind === 'task' ? plan : plan.children.find((c) => c.kind === 'task'))?.id ?? '';
}, 60_000);

type PageEvents = BuildEventPage['events'];

/** The complete lines of step `step` a page holds, by line number (from 1), as a client reads them. */
function pageLines(events: PageEvents, start: LogStart | undefined, step: string): Map<number, string> {
  const text = events
    .filter((e) => e.event === 'log' && (e.data as { origin: { id: string } }).origin.id === step)
    .map((e) => (e.data as { payload: string }).payload)
    .join('');
  const lines = text.split('\n').slice(0, -1);
  let first = (start?.line ?? 0) + 1;
  if (start?.partial) {
    lines.shift();
    first++;
  }
  return new Map(lines.map((l, i) => [first + i, l]));
}

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

  it('serves any page from a line of a step, numbered from where the step stands at its start', async () => {
    const tail = (await get<BuildEventPage>(`/builds/${buildId}/events/page?tail=true&bytes=65536`)).body;
    // Within its 64 KiB budget: the newest chunk always, older ones only while they fit. How many that
    // is depends on the chunks' sizes, which depend on when the agent read the step's output.
    const logs = tail.events.filter((e) => e.event === 'log');
    const older = logs.slice(0, -1).reduce((n, e) => n + JSON.stringify(e.data).length, 0);
    expect(logs.length).toBeGreaterThan(0);
    expect(older).toBeLessThanOrEqual(65_536);
    const newest = pageLines(tail.events, tail.start?.[taskId], taskId);
    expect(newest.get(LINES)).toBe(String(LINES));
    for (const [n, text] of newest) expect(text).toBe(String(n));
    // However small the budget, the newest page shows the last log chunk.
    const least = (await get<BuildEventPage>(`/builds/${buildId}/events/page?tail=true&bytes=1`)).body;
    expect(least.events.filter((e) => e.event === 'log')).toHaveLength(1);
    expect(pageLines(least.events, least.start?.[taskId], taskId).get(LINES)).toBe(String(LINES));

    for (const line of [1, 2, 123_456, LINES]) {
      const page = (
        await get<BuildEventPage>(`/builds/${buildId}/events/page?step=${taskId}&line=${line}&bytes=1`)
      ).body;
      expect(page.events).toHaveLength(1);
      const lines = pageLines(page.events, page.start?.[taskId], taskId);
      expect(lines.get(line)).toBe(String(line));
      for (const [n, text] of lines) expect(text).toBe(String(n));
    }
    // Past the end: the page with the last line.
    const after = (
      await get<BuildEventPage>(`/builds/${buildId}/events/page?step=${taskId}&line=${LINES + 5}`)
    ).body;
    expect(pageLines(after.events, after.start?.[taskId], taskId).get(LINES)).toBe(String(LINES));
  });

  it('gives the colours the lines above a page left set', async () => {
    const plan = (await get<BuildStep>(`/builds/${colourBuild}/plan`)).body;
    const task = (plan.kind === 'task' ? plan : plan.children.find((c) => c.kind === 'task'))?.id ?? '';
    const from = async (line: number) =>
      (await get<BuildEventPage>(`/builds/${colourBuild}/events/page?step=${task}&line=${line}&bytes=1`))
        .body;
    expect((await from(1)).start?.[task]).toEqual({ line: 0, partial: false, sgr: '' });
    const red = await from(100_000);
    expect(red.events[0]?.seq).toBeGreaterThan(1);
    expect(red.start?.[task]?.sgr).toBe('\u001b[1;31m');
    expect(pageLines(red.events, red.start?.[task], task).get(100_000)).toBe('100000');
    expect((await from(200_000)).start?.[task]?.sgr).toBe('');
  });

  it("serves the events other than log output, for the steps' states", async () => {
    const page = (await get<BuildEventPage>(`/builds/${buildId}/events/page?log=false`)).body;
    expect(page.start).toBeUndefined();
    expect(page.events.map((e) => e.event)).not.toContain('log');
    expect(page.events.map((e) => e.event)).toEqual(expect.arrayContaining(['status', 'finish-task']));
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
