// (h) The web UI on a long log (issue #16): a hub and a real agent process (built JavaScript, default
// options), one step printing 1,000,000 lines of 100 bytes (95 MiB, under the hub's 100 MiB cap), and
// Debian's chromium opening its build page. Measured: the time from navigation until the newest line is
// on screen, until the whole log has loaded (line numbers known), the page's memory, and how long a jump
// to a random place in the log takes to paint. Floors, measured the same way: a one-line build's page
// (what any build page costs), and two animation frames of an idle page (what any repaint costs).

import { spawn, type ChildProcess } from 'node:child_process';
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

export interface UiResult {
  lines: number;
  /** Navigation -> the newest line painted, big log (median of 3 loads). */
  newestLineMs: number;
  /** Navigation -> the only line painted, a one-line build (median of 3 loads): the floor. */
  floorMs: number;
  /** Navigation -> every line loaded and numbered. */
  wholeLogMs: number;
  /** The page's JS heap and its renderer's RSS once the whole log has loaded. */
  jsHeapMb: number;
  rendererRssMb: number;
  /** A jump to a random place in the log until the lines there are painted. */
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

    const floors: number[] = [];
    const newest: number[] = [];
    for (let i = 0; i < 3; i++) {
      floors.push(await timeToLine(browser, adminToken, `${started.url}/builds/${short}`, 'hello'));
      newest.push(await timeToLine(browser, adminToken, `${started.url}/builds/${long}`, last));
    }
    // Once more, to the whole log; this page alone is open for the memory figure.
    const page = await freshPage(browser, adminToken);
    const start = performance.now();
    await page.goto(`${started.url}/builds/${long}`);
    await page.locator('main[data-complete="true"]').waitFor({ timeout: 120_000 });
    const wholeLogMs = performance.now() - start;
    const lines = Number(await page.locator('.log').first().getAttribute('data-lines'));

    const cdp = await page.context().newCDPSession(page);
    await cdp.send('HeapProfiler.collectGarbage');
    await cdp.send('Performance.enable');
    const { metrics } = await cdp.send('Performance.getMetrics');
    const jsHeapMb = (metrics.find((m) => m.name === 'JSHeapUsedSize')?.value ?? NaN) / 2 ** 20;
    const rendererRssMb = await rendererRss(browser);

    const jumps = await page.evaluate<{ idle: number[]; jump: number[] }>(`(async () => {
      const log = document.querySelector('.log');
      const frames = () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
      const idle = [], jump = [];
      for (let i = 0; i < ${JUMPS}; i++) {
        let t = performance.now();
        await frames();
        idle.push(performance.now() - t);
        const line = 1 + Math.floor(Math.random() * (${UI_LINES} - 100));
        t = performance.now();
        log.scrollTop = (line - 1) * 18;
        await frames();
        if (!log.querySelector('[data-line="' + line + '"]')) throw new Error('line ' + line + ' not painted');
        jump.push(performance.now() - t);
      }
      return { idle, jump };
    })()`);
    await page.context().close();
    return {
      lines,
      newestLineMs: median(newest),
      floorMs: median(floors),
      wholeLogMs,
      jsHeapMb,
      rendererRssMb,
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

/** RSS of the browser's renderer processes (one tab: one renderer), in MB, from /proc. */
async function rendererRss(browser: Browser): Promise<number> {
  const cdp = await browser.newBrowserCDPSession();
  const info = (await cdp.send('SystemInfo.getProcessInfo')) as {
    processInfo: { type: string; id: number }[];
  };
  let kb = 0;
  for (const p of info.processInfo.filter((p) => p.type === 'renderer')) {
    const status = await readFile(`/proc/${p.id}/status`, 'utf8').catch(() => '');
    kb += Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  }
  return kb / 1024;
}
