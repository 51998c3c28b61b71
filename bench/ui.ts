// (h) The web UI on a long log (issue #16): a hub (file-backed SQLite store, as deployed) and a real agent
// process (built JavaScript, default options), one step printing 1,000,000 lines of 100 bytes (95 MiB,
// under the hub's 100 MiB cap), and Debian's chromium opening its build page. Measured as a reader sees
// it: the time from navigation until the newest line is on screen (the first open, when the hub also
// indexes the log's lines, and later ones), until line 1 is on screen after "go to the top", how long a
// jump to a random place in the log takes until its lines are painted (fetched if need be), and the
// renderer's memory after those jumps. Floors, measured the same way: a one-line build's page (what any
// build page costs, in time and memory), and two animation frames of an idle page (what any repaint costs).
// The hub's part alone, over HTTP: the newest page of events with its line index, the first request
// (the index read from the store) and later ones, and the first again after a hub restart; the browser's
// first open then follows the restart, after one navigation that warms the browser up (not counted).

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { chromium, type Page } from 'playwright-core';
import { readAdminToken } from '../hub/auth/admin-token.js';
import { CHROMIUM, CHROMIUM_ARGS } from '../test/support/chromium.js';
import { agentConfigYaml } from './build.js';
import { kill, spawnAgent, spawnHub } from './child-hub.js';
import { summarize, type Summary } from './stats.js';
import { HubApi, sleep, waitForAgents, within } from './support.js';

export const UI_LINES = 1_000_000;
const JUMPS = 30;

/** Why the UI cannot be measured here, or undefined when it can. */
export function uiUnavailable(): string | undefined {
  return existsSync(CHROMIUM) ? undefined : `no browser at ${CHROMIUM} (Debian's chromium package)`;
}

export interface UiResult {
  lines: number;
  /**
   * Navigation -> the newest line painted, big log, the first open (right after a hub restart: the hub
   * indexes the log then; the browser has opened one page before).
   */
  firstNewestLineMs: number;
  /** The hub's newest page of the big log (128 KiB, with its line index): the first request, later ones
   *  (median of 3), and the first after a hub restart, after the one-line build's page (its floor). */
  hubPage: { firstMs: number; laterMs: number; afterRestartMs: number; afterRestartFloorMs: number };
  /** Navigation -> the newest line painted, big log (median of 3 later opens, each in a fresh context). */
  newestLineMs: number;
  /** Navigation -> the only line painted, a one-line build (median of 3 loads): the floor. */
  floorMs: number;
  /** "Go to the top" (g) from the newest lines -> line 1 painted. */
  topMs: number;
  /** The renderers' memory after the jumps, and the page's JS heap then (garbage collected first). */
  memory: RendererMemory;
  jsHeapMb: number;
  /** The renderers' memory on the one-line build's page. */
  floorMemory: RendererMemory;
  /** A jump to a random place in the log until the lines there are painted (fetched if need be). */
  jump: Summary;
  /** Two animation frames with nothing to do. */
  frameFloor: Summary;
}

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

async function viteBuild(): Promise<void> {
  const child = spawn('npx', ['vite', 'build', 'web', '--logLevel', 'warn'], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  if (code !== 0) throw new Error(`vite build web failed (exit ${code})`);
}

async function waitForBuild(api: HubApi, id: number): Promise<string> {
  const poll = async () => {
    for (;;) {
      const s = ((await api.call('GET', `/builds/${id}`)).body as { status: string }).status;
      if (!['pending', 'started'].includes(s)) return s;
      await sleep(200);
    }
  };
  return within(600_000, `build ${id}`, poll());
}

type Browser = Awaited<ReturnType<typeof chromium.launch>>;

/** A page of its own (no cache, no earlier page kept in memory), signed in with `token`. */
async function freshPage(browser: Browser, token: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1200, height: 800 } });
  const session = JSON.stringify({ token, user: null, expiresAt: null });
  await context.addInitScript(`localStorage.setItem('outpost.session', ${JSON.stringify(session)})`);
  return context.newPage();
}

/** Milliseconds from navigation until a line with exactly `text` is on screen, in a fresh page. */
async function timeToLine(browser: Browser, token: string, url: string, text: string): Promise<number> {
  const page = await freshPage(browser, token);
  try {
    const start = performance.now();
    await page.goto(url);
    await page
      .locator('.log-line .line-text', { hasText: new RegExp(`^${text}$`) })
      .waitFor({ timeout: 60_000 });
    return performance.now() - start;
  } finally {
    await page.context().close();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

export async function measureUi(): Promise<UiResult> {
  await viteBuild();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'outpost-bench-ui-'));
  let hub: ChildProcess | undefined;
  let agent: ChildProcess | undefined;
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  try {
    const dataDir = path.join(dir, 'hub');
    const started = await spawnHub(dataDir);
    hub = started.child;
    const adminToken = await readAdminToken(dataDir);
    const api = new HubApi(started.url, adminToken);
    const agentDir = path.join(dir, 'agent');
    await mkdir(agentDir);
    await writeFile(path.join(agentDir, 'token'), await api.createAgentToken('bench-ui'), { mode: 0o600 });
    const config = path.join(agentDir, 'agent.yaml');
    await writeFile(
      config,
      agentConfigYaml(`127.0.0.1:${started.grpcPort}`, 'ui-agent', path.join(agentDir, 'work')),
    );
    agent = spawnAgent(config);
    agent.stdout?.resume();
    await waitForAgents(api, 1, 20_000);

    const last = String(UI_LINES).padStart(99, '0');
    await api.setPipeline(
      'ui',
      `jobs:
- name: long
  plan:
  - task: print
    config:
      platform: linux
      run: {path: awk, args: ['BEGIN { for (i = 1; i <= ${UI_LINES}; i++) printf "%099d\\n", i }']}
- name: short
  plan:
  - task: print
    config:
      platform: linux
      run: {path: echo, args: [hello]}
`,
    );
    const long = await api.trigger('ui', 'long');
    const short = await api.trigger('ui', 'short');
    for (const id of [long, short]) {
      const status = await waitForBuild(api, id);
      if (status !== 'succeeded') throw new Error(`build ${id} ${status}`);
    }

    const tailPage = async (on: HubApi, build = long) => {
      const start = performance.now();
      const res = await on.call('GET', `/builds/${build}/events/page?tail=true&bytes=131072`);
      if (res.status !== 200) throw new Error(`newest page of build ${build}: HTTP ${res.status}`);
      return performance.now() - start;
    };
    const hubFirstMs = await tailPage(api);
    const hubLater = [await tailPage(api), await tailPage(api), await tailPage(api)];
    // A restart: the hub knows nothing of the log but what its store holds. Twice: the browser's first
    // open below meets a hub that has not read the log since its start either.
    await kill(agent);
    const restart = async () => {
      if (hub) await kill(hub);
      const again = await spawnHub(dataDir);
      hub = again.child;
      return again.url;
    };
    let url = await restart();
    // What any first request of a fresh hub process costs: the one-line build's page first.
    const afterRestartFloorMs = await tailPage(new HubApi(url, adminToken), short);
    const afterRestartMs = await tailPage(new HubApi(url, adminToken));
    url = await restart();

    const newestUrl = `${url}/builds/${long}`;
    // Warm the browser up (its first page costs more, whatever the page): not counted.
    await timeToLine(browser, adminToken, `${url}/builds/${short}`, 'hello');
    const firstNewestLineMs = await timeToLine(browser, adminToken, newestUrl, last);
    const floors: number[] = [];
    const newest: number[] = [];
    for (let i = 0; i < 3; i++) {
      floors.push(await timeToLine(browser, adminToken, `${url}/builds/${short}`, 'hello'));
      newest.push(await timeToLine(browser, adminToken, newestUrl, last));
    }
    const floorPage = await freshPage(browser, adminToken);
    await floorPage.goto(`${url}/builds/${short}`);
    await floorPage.locator('.log-line .line-text', { hasText: /^hello$/ }).waitFor();
    const floorMemory = await rendererMemory(browser);
    await floorPage.context().close();

    // Once more, alone in the browser for the memory figure: to the top, then jumps all over the log.
    const page = await freshPage(browser, adminToken);
    await page.goto(newestUrl);
    await page.locator('.log-line .line-text', { hasText: new RegExp(`^${last}$`) }).waitFor();
    const lines = Number(await page.locator('.log').first().getAttribute('data-lines'));
    const top = performance.now();
    await page.keyboard.press('g');
    await page.locator('.log-line[data-line="1"] .line-text:not(.muted)').waitFor();
    const topMs = performance.now() - top;

    const jumps = await page.evaluate<{ idle: number[]; jump: number[] }>(`(async () => {
      const log = document.querySelector('.log');
      const frame = () => new Promise((r) => requestAnimationFrame(r));
      const idle = [], jump = [];
      for (let i = 0; i < ${JUMPS}; i++) {
        let t = performance.now();
        await frame();
        await frame();
        idle.push(performance.now() - t);
        const line = 1 + Math.floor(Math.random() * (${UI_LINES} - 100));
        t = performance.now();
        log.scrollTop = (line - 1) * 18;
        // Painted: the line is in the page with its text (not the "…" of a line being fetched).
        while (!log.querySelector('[data-line="' + line + '"] .line-text:not(.muted)')) {
          if (performance.now() - t > 30000) throw new Error('line ' + line + ' not painted in 30 s');
          await frame();
        }
        await frame();
        jump.push(performance.now() - t);
      }
      return { idle, jump };
    })()`);

    const cdp = await page.context().newCDPSession(page);
    await cdp.send('HeapProfiler.collectGarbage');
    await cdp.send('Performance.enable');
    const { metrics } = await cdp.send('Performance.getMetrics');
    const jsHeapMb = (metrics.find((m) => m.name === 'JSHeapUsedSize')?.value ?? NaN) / 2 ** 20;
    const memory = await rendererMemory(browser);
    await page.context().close();
    return {
      lines,
      firstNewestLineMs,
      hubPage: { firstMs: hubFirstMs, laterMs: median(hubLater), afterRestartMs, afterRestartFloorMs },
      newestLineMs: median(newest),
      floorMs: median(floors),
      topMs,
      jsHeapMb,
      memory,
      floorMemory,
      jump: summarize(jumps.jump),
      frameFloor: summarize(jumps.idle),
    };
  } finally {
    await browser.close();
    if (agent) await kill(agent);
    if (hub) await kill(hub);
    await rm(dir, { recursive: true, force: true });
  }
}

export interface RendererMemory {
  /** The page's renderer (the largest renderer process): resident set, and its private (anonymous) part. */
  rssMb: number;
  privateMb: number;
  /** Every renderer process's RSS added up (spare renderers included; shared pages counted in each). */
  allRssMb: number;
}

/** The renderers' memory from /proc, the processes found by CDP SystemInfo (one page open: its renderer
 *  is the largest; chromium also keeps a spare one or two for the next page). */
async function rendererMemory(browser: Browser): Promise<RendererMemory> {
  const cdp = await browser.newBrowserCDPSession();
  const info = (await cdp.send('SystemInfo.getProcessInfo')) as {
    processInfo: { type: string; id: number }[];
  };
  const kb = (status: string, field: string) =>
    Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  const all = await Promise.all(
    info.processInfo
      .filter((p) => p.type === 'renderer')
      .map(async (p) => {
        const status = await readFile(`/proc/${p.id}/status`, 'utf8').catch(() => '');
        return { rss: kb(status, 'VmRSS') / 1024, anon: kb(status, 'RssAnon') / 1024 };
      }),
  );
  const page = all.reduce((a, b) => (b.rss > a.rss ? b : a), { rss: 0, anon: 0 });
  return { rssMb: page.rss, privateMb: page.anon, allRssMb: all.reduce((n, p) => n + p.rss, 0) };
}
