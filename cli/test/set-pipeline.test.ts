import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PipelineDiagnostic } from '../../hub/api/types.js';
import { stringify } from 'yaml';
import { FakeHub, sandbox, sendError, sendJson, TOKEN, type Sandbox } from './fake-hub.js';

const CONFIG_PATH = '/teams/main/pipelines/app/config';
const OLD = 'jobs:\n- name: unit\n  plan:\n  - task: test\n    file: ci/task.yml\n';
const NEW = 'jobs:\n- name: unit\n  plan:\n  - task: lint\n    file: ci/task.yml\n';

let hub: FakeHub;
let sb: Sandbox;
let file: string;
let stored: { source: string; version: number } | undefined;

beforeEach(async () => {
  stored = { source: OLD, version: 4 };
  hub = await FakeHub.start();
  hub.on('GET', CONFIG_PATH, (_req, res) =>
    stored ? sendJson(res, 200, stored) : sendError(res, 404, 'not_found', 'pipeline not found'),
  );
  hub.on('PUT', CONFIG_PATH, (req, res) => {
    const created = stored === undefined;
    stored = { source: (req.body as { source: string }).source, version: (stored?.version ?? 0) + 1 };
    sendJson(res, 200, { created, version: stored.version, warnings: [] });
  });
  sb = await sandbox();
  await sb.saveTarget(hub.url);
  file = join(sb.dir, 'pipeline.yml');
  await writeFile(file, NEW);
});
afterEach(() => hub.close());

describe('set-pipeline', () => {
  it('shows the diff, asks, and saves with the expected version', async () => {
    const r = await sb.run(['set-pipeline', '-p', 'app', '-c', file], { stdin: 'y\n' });
    expect(r.stdout).toBe(
      [
        '@@ -1,5 +1,5 @@',
        ' jobs:',
        ' - name: unit',
        '   plan:',
        '-  - task: test',
        '+  - task: lint',
        '     file: ci/task.yml',
        'apply configuration? [yN]: configuration updated',
        '',
      ].join('\n'),
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(hub.requestsTo('PUT', `/api/v1${CONFIG_PATH}`)[0]?.body).toEqual({
      source: NEW,
      file,
      expectedVersion: 4,
    });
  });

  it('colours - red and + green on a terminal', async () => {
    const r = await sb.run(['set-pipeline', '-p', 'app', '-c', file, '-n'], { isTTY: true });
    expect(r.stdout).toContain('\x1b[31m-  - task: test\x1b[39m\n\x1b[32m+  - task: lint\x1b[39m\n');
  });

  it('bails out when the answer is not yes', async () => {
    const r = await sb.run(['set-pipeline', '-p', 'app', '-c', file], { stdin: 'n\n' });
    expect(r.code).toBe(1);
    expect(r.stdout.endsWith('apply configuration? [yN]: ')).toBe(true);
    expect(r.stderr).toBe('bailing out\n');
    expect(hub.requestsTo('PUT', `/api/v1${CONFIG_PATH}`)).toHaveLength(0);
  });

  it('-n creates a new pipeline without asking', async () => {
    stored = undefined;
    const r = await sb.run(['set-pipeline', '-p', 'app', '-c', file, '-n']);
    expect(r).toEqual({
      code: 0,
      stdout:
        '@@ -0,0 +1,5 @@\n+jobs:\n+- name: unit\n+  plan:\n+  - task: lint\n+    file: ci/task.yml\npipeline created!\nthe pipeline is currently paused. to unpause, run:\n  outpost unpause-pipeline -p app\n',
      stderr: '',
    });
    expect(hub.requestsTo('PUT', `/api/v1${CONFIG_PATH}`)[0]?.body).toEqual({ source: NEW, file });
  });

  it('says "no changes" and saves nothing when identical', async () => {
    stored = { source: NEW, version: 5 };
    const r = await sb.run(['set-pipeline', '-p', 'app', '-c', file]);
    expect(r).toEqual({ code: 0, stdout: 'no changes\n', stderr: '' });
    expect(hub.requestsTo('PUT', `/api/v1${CONFIG_PATH}`)).toHaveLength(0);
  });

  it('prints diagnostics as file:line:col and exits 1', async () => {
    const details: PipelineDiagnostic[] = [
      { file: 'ci/pipeline.yml', line: 4, col: 5, severity: 'error', message: "unknown step type 'tsk'" },
      {
        file: 'ci/pipeline.yml',
        line: 9,
        col: 3,
        severity: 'warning',
        message: "resource 'repo' is not used",
      },
    ];
    hub.on('PUT', '/teams/main/pipelines/bad/config', (_req, res) =>
      sendError(res, 400, 'invalid_pipeline', 'invalid pipeline config', details),
    );
    const r = await sb.run(['set-pipeline', '-p', 'bad', '-c', file, '-n']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      "ci/pipeline.yml:4:5: unknown step type 'tsk'\nwarning: ci/pipeline.yml:9:3: resource 'repo' is not used\n",
    );
    expect(r.stdout).not.toContain('pipeline created!');
  });

  it('prints warnings after a successful save', async () => {
    hub.on('PUT', '/teams/main/pipelines/warn/config', (_req, res) =>
      sendJson(res, 200, {
        created: true,
        version: 1,
        warnings: [{ file, line: 2, col: 3, severity: 'warning', message: 'job has no triggers' }],
      }),
    );
    const r = await sb.run(['set-pipeline', '-p', 'warn', '-c', file, '-n']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('pipeline created!\nthe pipeline is currently paused.');
    expect(r.stderr).toBe(`warning: ${file}:2:3: job has no triggers\n`);
  });

  it('validates before the diff: an invalid config prints its problems, with a suggestion, and asks the hub nothing', async () => {
    await writeFile(file, 'jobs:\n- name: unit\n  plan:\n  - tsk: lint\n    file: ci/task.yml\n');
    const r = await sb.run(['set-pipeline', '-p', 'app', '-c', file], { stdin: 'y\n' });
    expect(r).toEqual({
      code: 1,
      stdout: '',
      stderr: `${file}:4:5: unknown step key "tsk"; did you mean \`task\`?\n`,
    });
    expect(hub.requests).toEqual([]);
  });

  it('names the target in the hint it prints after creating a pipeline', async () => {
    stored = undefined;
    await writeFile(
      sb.configPath,
      stringify({ targets: { ci: { url: hub.url, token: TOKEN, team: 'main' } } }),
    );
    const r = await sb.run(['-t', 'ci', 'set-pipeline', '-p', 'app', '-c', file, '-n']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      'pipeline created!\nthe pipeline is currently paused. to unpause, run:\n  outpost -t ci unpause-pipeline -p app\n',
    );
  });

  it('reports a missing file', async () => {
    const r = await sb.run(['set-pipeline', '-p', 'app', '-c', join(sb.dir, 'missing.yml'), '-n']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: could not read .*missing\.yml: ENOENT/);
  });

  it('requires -p and -c', async () => {
    const r = await sb.run(['set-pipeline', '-c', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error: required option '-p, --pipeline <name>' not specified");
  });
});
