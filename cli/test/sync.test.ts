// `outpost sync` (fly sync, download_cli_test): Outpost's CLI comes with its npm package, so sync
// compares versions and says how to install the hub's rather than downloading anything.

import { afterEach, beforeEach, expect, it } from 'vitest';
import { OUTPOST_VERSION } from '../../common/version.js';
import { FakeHub, sandbox, sendJson, type Sandbox } from './fake-hub.js';

let hub: FakeHub;
let sb: Sandbox;

beforeEach(async () => {
  hub = await FakeHub.start();
  sb = await sandbox();
  await sb.saveTarget(hub.url);
});
afterEach(() => hub.close());

const hubRuns = (version: string) =>
  hub.on('GET', '/info', (_req, res) => sendJson(res, 200, { version, login: { local: true, oidc: null } }));

it('skips when the versions match, and says there is nothing to download with --force', async () => {
  hubRuns(OUTPOST_VERSION);
  expect(await sb.run(['sync'])).toEqual({
    code: 0,
    stdout: `version ${OUTPOST_VERSION} already matches; skipping\n`,
    stderr: '',
  });
  const forced = await sb.run(['sync', '--force']);
  expect(forced.code).toBe(0);
  expect(forced.stdout).toBe(
    `version ${OUTPOST_VERSION} already matches; nothing to download: the CLI comes with the outpost npm package (npm install -g outpost@${OUTPOST_VERSION})\n`,
  );
});

it("names the hub's version and how to install it when they differ", async () => {
  hubRuns('9.9.9');
  expect(await sb.run(['sync'])).toEqual({
    code: 1,
    stdout: '',
    stderr: `error: the hub runs outpost 9.9.9, this CLI is ${OUTPOST_VERSION}; install the hub's: npm install -g outpost@9.9.9\n`,
  });
});
