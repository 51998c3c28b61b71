// The web UI end to end: a real hub and agent, Debian's chromium driven by playwright-core through every
// page: sign in, dashboard, pipeline graph, job page with a waiting build's reason, build page with log
// lines arriving while the step runs, abort, agents. Screenshots go to test-results/ui/ (git-ignored).
// Needs `vite build web` first (npm run test:ui does it) and /usr/bin/chromium (.ci/run installs it).

import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningAgent } from '../../agent/agent.js';
import { setPipeline, startTestAgent, startTestHub, type TestHub } from '../support/harness.js';

const SHOTS = path.resolve('test-results/ui');
// A slow task whose lines are coloured, so the page can be seen streaming them (and aborting it).
const SLOW = `i=0; while [ $i -lt 900 ]; do i=$((i+1)); printf '\\033[32mline %s\\033[0m\\n' $i; sleep 0.1; done`;
const PIPELINE = `resources:
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
`;

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
  profile = await mkdtemp(path.join(os.tmpdir(), 'outpost-chromium-'));
  started.push(() => rm(profile, { recursive: true, force: true }));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-quic',
      '--no-first-run',
      '--disable-sync',
    ],
    viewport: { width: 1200, height: 800 },
    colorScheme: 'light',
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
    await check('sign-in page without a token', async () => {
      await page.goto(hub.url + '/');
      await page.getByLabel('API token').fill('opu_wrong');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.locator('.error').waitFor();
      expect(await page.locator('.error').textContent()).toContain('API token');
    });
    await shot('login');

    await check('dashboard card with the jobs', async () => {
      await page.getByLabel('API token').fill(hub.adminToken);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.locator('.card', { hasText: 'chain' }).waitFor();
      expect(await page.locator('.card .job-cell').allTextContents()).toEqual(['unit', 'deploy']);
    });
    await check('dashboard filter by name', async () => {
      await page.getByLabel('filter by name').fill('nothing-like-it');
      await page.getByText('No pipelines match.').waitFor();
      await page.getByLabel('filter by name').fill('cha');
      await page.locator('.card', { hasText: 'chain' }).waitFor();
    });
    await shot('dashboard');

    await check('pipeline graph with the passed edge', async () => {
      await page.getByRole('link', { name: 'chain' }).click();
      await page.locator('[data-node="job:deploy"]').waitFor();
      expect(
        await Promise.all((await page.locator('[data-node]').all()).map((n) => n.getAttribute('data-node'))),
      ).toEqual(expect.arrayContaining(['resource:src', 'job:unit', 'job:deploy']));
      expect(await page.locator('[data-edge="job:unit->job:deploy"]').count()).toBe(1);
      expect(await page.locator('[data-edge="resource:src->job:unit"]').count()).toBe(1);
    });
    await check('pipeline pause and unpause', async () => {
      await page.getByRole('button', { name: 'Pause pipeline' }).click();
      await page.getByRole('button', { name: 'Unpause pipeline' }).click();
      await page.getByRole('button', { name: 'Pause pipeline' }).waitFor();
    });
    await shot('pipeline');

    await check('job page shows why a build waits', async () => {
      await page.locator('[data-node="job:deploy"]').click();
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

    await check('abort', async () => {
      await page.getByRole('button', { name: 'Abort' }).click();
      await page.locator('.badge', { hasText: 'aborted' }).waitFor();
      await page.getByRole('button', { name: 'Abort' }).isDisabled();
    });
    await shot('build-aborted');

    await check('agents page', async () => {
      await page.getByRole('link', { name: 'Agents' }).click();
      await page.getByRole('cell', { name: 'agent-1' }).waitFor();
      expect(await page.locator('.badge.agent-connected').count()).toBe(1);
    });
    await shot('agents');

    await check('sign out', async () => {
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.getByLabel('API token').waitFor();
    });
    expect(failures).toBe(0);
    finished = true;
  }, 120_000);
});
