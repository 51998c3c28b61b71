// The web UI end to end: a real hub and agent, Debian's chromium driven by playwright-core through every
// page: the visitor's dashboard, sign in with a password, the OIDC callback route, the team switcher,
// dashboard, pipeline graph with group tabs, resource page (pin, disable, check now), job page with a
// waiting build's reason, build page (log lines arriving while the step runs, line links, timestamps,
// shortcuts, raw download, a virtualised long log, abort, rerun, a reload mid-build), agents with the queue,
// sign out; sign-in without a team, job pause, and the Not found page of deep links naming nothing.
// Screenshots go to test-results/ui/ (git-ignored).
// Needs `vite build web` first (npm run test:ui does it) and /usr/bin/chromium (.ci/run installs it).

import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningAgent } from '../../agent/agent.js';
import { CHROMIUM, CHROMIUM_ARGS } from '../support/chromium.js';
import { setPipeline, startTestAgent, startTestHub, type TestHub } from '../support/harness.js';

const SHOTS = path.resolve('test-results/ui');
// A slow task whose lines are coloured, so the page can be seen streaming them (and aborting it).
const SLOW = `i=0; while [ $i -lt 900 ]; do i=$((i+1)); printf '\\033[32mline %s\\033[0m\\n' $i; sleep 0.1; done`;
const PIPELINE = `groups:
- name: all
  jobs: [unit, deploy, long, gpu]
- name: ship
  jobs: [deploy]
resources:
- name: src
  type: mock
  source: {initial_version: v1}
jobs:
- name: unit
  plan:
  - get: src
  - task: test
    config:
      platform: linux
      run: {path: sh, args: ['-c', ${JSON.stringify(SLOW)}]}
- name: deploy
  plan:
  - get: src
    passed: [unit]
  - task: ship
    config:
      platform: linux
      run: {path: echo, args: [shipped]}
- name: long
  plan:
  - task: print
    config:
      platform: linux
      run: {path: seq, args: ['30000']}
- name: gpu
  plan:
  - task: train
    tags: [gpu]
    config:
      platform: linux
      run: {path: 'true'}
`;
const PASSWORD = 'a long enough password';

let hub: TestHub;
let agent: RunningAgent & { dir: string };
let browser: BrowserContext;
let page: Page;
let profile: string;
const pages = new Set<string>();
let checks = 0;
let failures = 0;
/** Set when the walk got to its end: a run that stopped early (setup, a timeout) is a failure too. */
let finished = false;
/** What beforeAll started, to stop in reverse order (whatever part of it succeeded). */
const started: (() => Promise<unknown>)[] = [];

/** One visible check: counted, and counted as a failure when it throws. */
async function check(what: string, fn: () => Promise<void>): Promise<void> {
  checks++;
  try {
    await fn();
  } catch (err) {
    failures++;
    throw new Error(`ui check "${what}" failed: ${String(err)}`, { cause: err });
  }
}

async function shot(name: string): Promise<void> {
  pages.add(name);
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

beforeAll(async () => {
  await mkdir(SHOTS, { recursive: true });
  hub = await startTestHub();
  started.push(() => hub.close());
  agent = await startTestAgent(hub);
  started.push(() => agent.stop());
  await setPipeline(hub, 'chain', PIPELINE);
  // A local user in two teams, for the password login and the team switcher.
  for (const [method, route, body] of [
    ['PUT', '/users/ann', { password: PASSWORD }],
    ['PUT', '/users/zed', { password: PASSWORD }],
    ['PUT', '/teams/main', { members: [{ user: 'ann', role: 'member' }] }],
    [
      'PUT',
      '/teams/other',
      {
        members: [
          { user: 'ann', role: 'viewer' },
          { user: 'zed', role: 'member' },
        ],
      },
    ],
  ] as const) {
    const res = await hub.api(method, route, body);
    if (res.status >= 300) throw new Error(`${method} ${route}: ${JSON.stringify(res.body)}`);
  }
  profile = await mkdtemp(path.join(os.tmpdir(), 'outpost-chromium-'));
  started.push(() => rm(profile, { recursive: true, force: true }));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    args: CHROMIUM_ARGS,
    viewport: { width: 1200, height: 800 },
    colorScheme: 'light',
    acceptDownloads: true,
  });
  started.push(() => browser.close());
  page = browser.pages()[0] ?? (await browser.newPage());
}, 60_000);

afterAll(async () => {
  for (const stop of started.reverse()) await stop();
  console.log(
    `ui: pages=${pages.size} checks=${checks} failures=${failures + (finished || failures > 0 ? 0 : 1)}`,
  );
});

describe('web UI', () => {
  it('walks every page', async () => {
    await check('a visitor sees the dashboard of exposed pipelines, not the private one', async () => {
      await page.goto(hub.url + '/');
      await page.getByText('Showing the pipelines exposed to everyone.').waitFor();
      await page.getByText('No pipelines match.').waitFor();
      expect(await page.locator('.card').count()).toBe(0);
    });
    await shot('visitor');

    await check('password sign-in refuses a wrong password', async () => {
      await page.getByRole('navigation').getByRole('link', { name: 'Sign in' }).click();
      await page.getByLabel('Username').fill('ann');
      await page.getByLabel('Password', { exact: true }).fill('not the password');
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.getByRole('alert').waitFor();
      expect(await page.getByRole('alert').textContent()).toContain('wrong username or password');
    });
    await shot('login');

    await check('password sign-in, then the dashboard card with the jobs', async () => {
      await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.locator('.card', { hasText: 'chain' }).waitFor();
      expect(await page.getByLabel('signed in as').textContent()).toBe('ann');
      expect(await page.locator('.card .job-cell').allTextContents()).toEqual([
        'unit',
        'deploy',
        'long',
        'gpu',
      ]);
    });
    await check('team switcher', async () => {
      await page.getByLabel('team', { exact: true }).selectOption('other');
      await page.getByText('No pipelines match.').waitFor();
      await page.getByLabel('team', { exact: true }).selectOption('');
      await page.locator('.card', { hasText: 'chain' }).waitFor();
    });
    await check('dashboard filter by name', async () => {
      await page.getByLabel('filter by name').fill('nothing-like-it');
      await page.getByText('No pipelines match.').waitFor();
      await page.getByLabel('filter by name').fill('cha');
      await page.locator('.card', { hasText: 'chain' }).waitFor();
    });
    await shot('dashboard');

    await check('sign out', async () => {
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.getByText('Showing the pipelines exposed to everyone.').waitFor();
      expect(await page.getByLabel('signed in as').count()).toBe(0);
    });

    await check('a user of another team only signs in without naming a team, as in Concourse', async () => {
      await page.getByRole('navigation').getByRole('link', { name: 'Sign in' }).click();
      await page.getByLabel('Username').fill('zed');
      await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
      expect(await page.getByLabel('Team').inputValue()).toBe('');
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.getByLabel('signed in as').waitFor();
      expect(await page.getByLabel('signed in as').textContent()).toBe('zed');
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.getByText('Showing the pipelines exposed to everyone.').waitFor();
    });

    await check('the OIDC callback route keeps the token and goes where the login started', async () => {
      const expiresAt = Date.now() + 3_600_000;
      await page.goto(
        `${hub.url}/login/callback#token=${hub.adminToken}&expiresAt=${expiresAt}&redirect=%2Fteams%2Fmain%2Fpipelines%2Fchain`,
      );
      await page.waitForURL(/\/teams\/main\/pipelines\/chain/);
      await page.locator('[data-node="job:deploy"]').waitFor();
      // The token left the address bar with the fragment.
      expect(page.url()).not.toContain('token=');
    });

    await check('pipeline graph with the passed edge', async () => {
      await page.getByRole('tab', { name: 'all' }).waitFor();
      expect(
        await Promise.all((await page.locator('[data-node]').all()).map((n) => n.getAttribute('data-node'))),
      ).toEqual(expect.arrayContaining(['resource:src', 'job:unit', 'job:deploy']));
      expect(await page.locator('[data-edge="job:unit->job:deploy"]').count()).toBe(1);
      expect(await page.locator('[data-edge="resource:src->job:unit"]').count()).toBe(1);
    });
    await check('pipeline group tabs', async () => {
      await page.getByRole('tab', { name: 'ship' }).click();
      await page.locator('[data-node="job:unit"]').waitFor({ state: 'detached' });
      expect(await page.locator('[data-node^="job:"]').count()).toBe(1);
      expect(await page.getByRole('tab', { name: 'ship' }).getAttribute('aria-selected')).toBe('true');
      await page.getByRole('tab', { name: 'all' }).click();
      await page.locator('[data-node="job:unit"]').waitFor();
    });
    await check('pipeline pause and unpause', async () => {
      await page.getByRole('button', { name: 'Pause pipeline' }).click();
      await page.getByRole('button', { name: 'Unpause pipeline' }).click();
      await page.getByRole('button', { name: 'Pause pipeline' }).waitFor();
    });
    await shot('pipeline');
    await check('keyboard: Tab reaches a job on the graph, Enter opens it, Back returns', async () => {
      const focused = async () =>
        (await page.evaluate('document.activeElement?.closest("[data-node]")?.dataset.node')) === 'job:unit';
      for (let tabs = 0; tabs < 30 && !(await focused()); tabs++) await page.keyboard.press('Tab');
      expect(await focused(), 'the job unit was not reached with Tab').toBe(true);
      await page.keyboard.press('Enter');
      await page.waitForURL(/\/jobs\/unit$/);
      await page.goBack();
      await page.locator('[data-node="job:unit"]').waitFor();
    });

    await check('resource page: check now shows the check build', async () => {
      await page.locator('[data-node="resource:src"]').click();
      await page.getByRole('button', { name: 'Check now' }).click();
      await page.getByLabel('check output').locator('.badge', { hasText: 'succeeded' }).waitFor();
      await page.locator('tr[data-version="version: v1"]').waitFor();
    });
    await check('resource page: pin with a comment, then unpin', async () => {
      await page.getByLabel('pin comment').fill('known good');
      await page.locator('tr[data-version="version: v1"]').getByRole('button', { name: 'Pin' }).click();
      await page.locator('.pinned', { hasText: 'known good' }).waitFor();
      expect(await page.locator('.pinned').textContent()).toContain('version: v1');
      await shot('resource');
      await page.getByRole('button', { name: 'Unpin' }).click();
      await page.locator('.pinned').waitFor({ state: 'detached' });
    });
    await check('resource page: disable and enable a version', async () => {
      await page.getByRole('button', { name: 'disable version version: v1' }).click();
      await page.locator('tr.disabled[data-version="version: v1"]').waitFor();
      const res = await hub.api<{ enabled: boolean }[]>(
        'GET',
        '/teams/main/pipelines/chain/resources/src/versions',
      );
      expect(res.body.map((v) => v.enabled)).toEqual([false]);
      await page.getByRole('button', { name: 'enable version version: v1' }).click();
      await page.locator('tr.disabled').waitFor({ state: 'detached' });
    });

    await check(
      "deep links naming nothing show Not found, without the missing thing's controls",
      async () => {
        for (const missing of [
          '/teams/main/pipelines/nope',
          '/teams/main/pipelines/chain/jobs/nope',
          '/builds/999999',
          '/no/such/page',
        ]) {
          await page.goto(hub.url + missing);
          await page.getByRole('heading', { name: 'Not found' }).waitFor();
          expect(await page.getByRole('alert').textContent()).toMatch(/not found|No page at/);
          expect(await page.getByRole('button', { name: /Pause|Trigger|Abort|Rerun/ }).count(), missing).toBe(
            0,
          );
        }
        await shot('not-found');
        await page.getByRole('link', { name: 'Back to the pipelines' }).click();
        await page.locator('.card', { hasText: 'chain' }).waitFor();
      },
    );

    await check('job pause and unpause', async () => {
      await page.goto(`${hub.url}/teams/main/pipelines/chain/jobs/deploy`);
      await page.getByRole('button', { name: 'Pause job' }).click();
      await page.getByRole('button', { name: 'Unpause job' }).waitFor();
      const jobs = await hub.api<{ name: string; paused: boolean }[]>(
        'GET',
        '/teams/main/pipelines/chain/jobs',
      );
      expect(jobs.body.find((j) => j.name === 'deploy')?.paused).toBe(true);
      await page.getByRole('button', { name: 'Unpause job' }).click();
      await page.getByRole('button', { name: 'Pause job' }).waitFor();
    });

    await check('job page shows why a build waits', async () => {
      await page.goto(`${hub.url}/teams/main/pipelines/chain/jobs/deploy`);
      await page.getByRole('button', { name: 'Trigger build' }).click();
      await page.waitForURL(/\/builds\/\d+$/);
      await page.goBack();
      await page.locator('.waiting').waitFor();
      expect(await page.locator('.waiting').textContent()).toMatch(/#1 is waiting: .+/);
    });
    await shot('job');

    await check('trigger, then log lines arrive while the step runs', async () => {
      await page.goto(`${hub.url}/teams/main/pipelines/chain/jobs/unit`);
      await page.getByRole('button', { name: 'Trigger build' }).click();
      await page.waitForURL(/\/builds\/\d+$/);
      await page.locator('.log-line', { hasText: 'line 5' }).waitFor({ timeout: 20_000 });
      expect(await page.locator('[aria-label="step test"] .state-text').textContent()).toBe('running');
      expect(await page.locator('.badge').first().textContent()).toBe('running');
      expect(await page.locator('.log-line .ansi-fg-2').count()).toBeGreaterThan(0);
    });
    await shot('build-running');

    await check('a line link, then a range with shift-click, in the URL fragment', async () => {
      await page.getByRole('link', { name: 'line 2', exact: true }).click();
      expect(await page.getByLabel('follow the tail').isChecked()).toBe(false);
      await page.getByRole('link', { name: 'line 4', exact: true }).click({ modifiers: ['Shift'] });
      expect(new URL(page.url()).hash).toMatch(/^#.+:L2-L4$/);
      expect(await page.locator('.log-line.selected').allTextContents()).toEqual([
        '2line 2',
        '3line 3',
        '4line 4',
      ]);
    });
    await check('opening a line link selects the range', async () => {
      await page.reload();
      await page.locator('.log-line.selected').first().waitFor();
      expect(await page.locator('.log-line.selected').count()).toBe(3);
      expect(await page.getByLabel('follow the tail').isChecked()).toBe(false);
    });
    await check('after a reload mid-build the log goes on streaming', async () => {
      const log = page.getByRole('log', { name: 'log of step test' });
      const lines = async () => Number(await log.getAttribute('data-lines'));
      const before = await lines();
      await expect
        .poll(lines, { timeout: 20_000, message: 'no new log line after the reload' })
        .toBeGreaterThan(before);
    });
    await check('keyboard shortcuts: ? lists them, t shows timestamps, G follows the tail', async () => {
      await page.keyboard.press('?');
      await page.getByLabel('keyboard shortcuts').waitFor();
      await page.keyboard.press('t');
      await page.locator('.line-time').first().waitFor();
      expect(await page.locator('.line-time').first().textContent()).toMatch(/^\d\d:\d\d:\d\d$/);
      await page.keyboard.press('Shift+G');
      expect(await page.getByLabel('follow the tail').isChecked()).toBe(true);
    });
    await shot('build-lines');

    await check('abort', async () => {
      await page.getByRole('button', { name: 'Abort' }).click();
      await page.locator('.badge', { hasText: 'aborted' }).waitFor();
      expect(await page.getByRole('button', { name: 'Abort' }).isDisabled()).toBe(true);
    });
    await check('download of the raw log', async () => {
      const [download] = await Promise.all([
        page.waitForEvent('download'),
        page.getByRole('button', { name: 'Download log' }).click(),
      ]);
      const text = await readFile(await download.path(), 'utf8');
      // Every step's output in order, ANSI codes and all: the get's, then the task's.
      const green = (t: string) => `\x1b[32m${t}\x1b[0m\n`;
      expect(text.startsWith(`fetching version: v1\n${green('line 1')}${green('line 2')}`)).toBe(true);
      expect(download.suggestedFilename()).toBe('chain-unit-1.log');
    });
    await shot('build-aborted');

    await check('rerun: a new build N.1 with the page moved to it', async () => {
      const before = new URL(page.url()).pathname;
      await page.getByRole('button', { name: 'Rerun' }).click();
      await page.waitForURL((u) => u.pathname !== before);
      await page.getByRole('heading', { name: /#1\.1$/ }).waitFor();
    });

    await check('a long log is virtualised: 30000 lines, a few in the page', async () => {
      await page.goto(`${hub.url}/teams/main/pipelines/chain/jobs/long`);
      await page.getByRole('button', { name: 'Trigger build' }).click();
      await page.waitForURL(/\/builds\/\d+$/);
      await page.locator('.badge', { hasText: 'succeeded' }).waitFor({ timeout: 20_000 });
      const log = page.getByRole('log', { name: 'log of step print' });
      await log.locator('.log-line', { hasText: /^30000/ }).waitFor();
      expect(await log.getAttribute('data-lines')).toBe('30000');
      expect(await log.locator('.log-line').count()).toBeLessThan(200);
      await page.keyboard.press('g');
      await log
        .locator('.log-line', { hasText: /^1$|^11$/ })
        .first()
        .waitFor();
    });
    await shot('build-long');

    await check('agents page with the queue and why a step waits', async () => {
      const gpu = await hub.api<{ id: number }>('POST', '/teams/main/pipelines/chain/jobs/gpu/builds');
      expect(gpu.status).toBe(201);
      await page.getByRole('link', { name: 'Agents' }).click();
      await page.getByRole('cell', { name: 'agent-1' }).waitFor();
      expect(await page.locator('.badge.agent-connected').count()).toBe(1);
      const row = page.getByLabel('queue').locator('tr', { hasText: 'train' });
      await row.waitFor();
      expect(await row.locator('.waiting-reason').textContent()).toMatch(/gpu/);
    });
    await shot('agents');

    await check('dark theme follows the system', async () => {
      await page.emulateMedia({ colorScheme: 'dark' });
      const bg = await page.evaluate('getComputedStyle(document.body).backgroundColor');
      expect(bg).toBe('rgb(20, 24, 29)');
      await shot('agents-dark');
      await page.emulateMedia({ colorScheme: 'light' });
    });
    await check('signed out, Back to a team page asks to sign in, and signing in returns to it', async () => {
      await page.goto(`${hub.url}/teams/main/pipelines/chain`);
      await page.locator('[data-node="job:unit"]').waitFor();
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.getByText('Showing the pipelines exposed to everyone.').waitFor();
      await page.goBack();
      await page.getByRole('heading', { name: 'Sign in to see this page' }).waitFor();
      expect(await page.getByRole('alert').textContent()).not.toContain('outpost login');
      expect(await page.getByRole('button', { name: 'Pause pipeline' }).count()).toBe(0);
      await page.getByRole('alert').getByRole('link', { name: 'Sign in' }).click();
      await page.getByLabel('Username').fill('ann');
      await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.waitForURL(/\/teams\/main\/pipelines\/chain$/);
      await page.locator('[data-node="job:unit"]').waitFor();
    });
    expect(failures).toBe(0);
    finished = true;
  }, 240_000);
});
