// What run.test.ts does with each testflight fixture (../shared/conformance/testflight): the scenario(s)
// its README section describes, as data, and under `unchecked` every part of that section they do not
// check (such a fixture is reported `partial`, never `pass`).
//
// Expected texts are whole output lines (output.ts), never the `running PATH ARGS` header: a header
// echoes the task's arguments, so it would "show" an echo's text whether or not the echo ran.

import type { OutputExpectation } from './output.js';

/** A build's final status word, as fly prints it on the last line. */
export type BuildStatus = 'succeeded' | 'failed' | 'errored' | 'aborted';

/** What `trigger-job -w` must show: exit code, the status word on the last line, and output lines. */
export interface BuildExpectation extends OutputExpectation {
  /** fly's exit code: succeeded 0, failed 1, errored 2, aborted 3 (or the last non-zero task exit). */
  exit: number;
  /** The status word on the last line of the output. */
  status: BuildStatus;
}

/**
 * The suite's second team (Concourse's `testflight`; run.test.ts creates it with a member user and logs a
 * second target into it). Actions with `team` run there; without, in `main` as its admin.
 */
export const SECOND_TEAM = 'testflight';

/** Where an action runs: `team` (see SECOND_TEAM) and `pipeline`, another than the case's (`{P}` in it stands for the case's). */
interface Elsewhere {
  team?: typeof SECOND_TEAM;
  pipeline?: string;
}

export type Action =
  /** set-pipeline -n -c <fixture, with `vars` interpolated> into the case's pipeline, then unpause it. */
  | ({ do: 'set-pipeline'; fixture: string; vars?: Record<string, unknown> } & Elsewhere)
  /** pause-pipeline / unpause-pipeline / expose-pipeline -p {P}. */
  | ({ do: 'pause' | 'unpause' | 'expose' } & Elsewhere)
  /**
   * builds --team `of` --count=1000 (from main's admin target): rows name `{P}`-pipelines of `contains`
   * (with the team column saying `of`), none of `absent`.
   */
  | { do: 'builds-of-team'; of: string; contains: string[]; absent: string[] }
  /**
   * builds -j {P}/job --json, then with --since/--until around the start times of the 2nd to 4th newest
   * builds (as Concourse's list_builds_test: since the 4th's second minus 1 s, until the 2nd's plus 1 s):
   * exactly the builds that started in that window, those three included.
   */
  | ({ do: 'builds-window'; job: string } & Elsewhere)
  /**
   * trigger-job -j {P}/job -w. With `abortAfterLine`, once the output has that whole line, runs
   * `abort-build -j {P}/job -b <the started build>` (which must exit 0) and then waits for the watch.
   */
  | ({
      do: 'trigger';
      job: string;
      expect: BuildExpectation;
      abortAfterLine?: string;
    } & Elsewhere)
  /** trigger-job -j {P}/job -w in the background, named `as`: returns once it printed `started`. */
  | { do: 'start'; job: string; as: string }
  /** The background build's watch has not ended after `forMs`. */
  | { do: 'still-running'; build: string; forMs: number }
  /** Waits for the background build's watch to end and checks it as `trigger` does. */
  | { do: 'await'; build: string; expect: BuildExpectation }
  /**
   * The background builds ran one at a time: each started (hub's startedAt) no earlier than the one
   * before it ended, and each later one printed `waitLine` while it waited.
   */
  | { do: 'one-at-a-time'; builds: string[]; waitLine: string }
  /** The versions the build's get steps used (its finish-get events, in order), by `version` key. */
  | { do: 'fetched'; job: string; build: string; versions: string[] }
  /** builds -p {P}: rows (naming the pipeline) with these cells or none, and how many rows there are. */
  | ({ do: 'builds'; contains: string[]; absent?: string[]; rows?: number } & Elsewhere)
  /** check-resource -r {P}/resource [-f key:value ...]: exit code and output. */
  | { do: 'check'; resource: string; from?: string[]; expect: CommandExpectation }
  /** check-resource-type -r {P}/type [-f key:value ...]: exit code and output. */
  | { do: 'check-type'; type: string; from?: string[]; expect: CommandExpectation }
  /** resource-versions -r {P}/resource: output. */
  | { do: 'resource-versions'; resource: string; expect: CommandExpectation }
  /** resources -p {P} (or another pipeline): output. */
  | ({ do: 'resources'; expect: CommandExpectation } & Elsewhere)
  /**
   * watch -j {P}/job -b build (waits for the build to exist): as trigger, without the `started` line.
   * Without `build`: the job's latest build.
   */
  | { do: 'watch'; job: string; build?: string; expect: BuildExpectation }
  /** rerun-build -j {P}/job -b build -w: as trigger, and the rerun is named `name` (1.1, 1.2 ...). */
  | { do: 'rerun'; job: string; build: string; name: string; expect: BuildExpectation }
  /** clear-task-cache -j {P}/job -s step -n: exit code and output. */
  | { do: 'clear-task-cache'; job: string; step: string; expect: CommandExpectation }
  /** rename-pipeline -o {P} -n `to` (`{P}` stands for the case's pipeline): exit code and output. */
  | { do: 'rename'; to: string; expect: CommandExpectation }
  /**
   * execute -c <`task`, written to a file> [-j {P}/inputsFrom] [-i NAME=<a directory holding `inputs`'
   * files>] [-l <`varsFile`, written to a file>] FLAGS: checked as trigger is, after `executing build`.
   */
  | {
      do: 'execute';
      task: string;
      inputsFrom?: string;
      inputs?: Record<string, Record<string, string>>;
      varsFile?: string;
      flags?: string[];
      expect: BuildExpectation;
    };

/** What a plain command must show (stdout, then stderr). */
export interface CommandExpectation extends OutputExpectation {
  exit: number;
}

export interface Scenario {
  /** Short name; the pipeline is `tf-<fixture>-<name>`. */
  name: string;
  actions: Action[];
}

export interface FixturePlan {
  scenarios: Scenario[];
  /** What the fixture's README section asks for that these scenarios do not check, and why. */
  unchecked?: string[];
  /** A remark for the report's table. */
  note?: string;
  /** How long all its scenarios may take together (default 90 s): for fixtures that run many builds. */
  timeoutMs?: number;
}

// task_vars.yml's task files, as its spec writes them: `((` and `))` travel through the mock's
// create_files as START_VAR / END_VAR, and the fixture's unwrap task (sed) turns them back.
const TASK_ECHO = `---
platform: linux
image_resource:
  type: START_VARimage_resource_typeEND_VAR
  source: {mirror_self: true}
run:
  path: echo
  args: [START_VARecho_textEND_VAR]
`;
// The var-source case prints the secret in two halves: only the whole value is masked.
const TASK_VAR_SOURCE = `---
platform: linux
image_resource:
  type: START_VARimage_resource_typeEND_VAR
  source: {mirror_self: true}
run:
  path: sh
  args: [-c, "echo START_VARvs:echo_textEND_VAR | cut -c1-9; echo START_VARvs:echo_textEND_VAR | cut -c10-"]
`;
const TASK_UNWRAP = `---
platform: linux
image_resource:
  type: mock
  source: {mirror_self: true}
inputs:
  - name: some-resource
outputs:
  - name: unwrapped-task-resource
run:
  path: sh
  args: ["-c", "cat some-resource/task.yml | sed -e 's/START_VAR/((/' | sed -e 's/END_VAR/))/' > unwrapped-task-resource/task.yml"]
`;

// task_vars.yml's execute specs: its task file, as a user has it on disk.
const TASK_ECHO_VARS = TASK_ECHO.replaceAll('START_VAR', '((').replaceAll('END_VAR', '))');

// many-inputs.yml's task, as a local file for `execute --inputs-from`.
const CAT_FILES = `platform: linux
inputs:
  - name: some-resource-a
  - name: some-resource-b
run:
  path: sh
  args:
    - -c
    - |
      echo a has $(cat some-resource-a/version)
      echo b has $(cat some-resource-b/version)
`;

/** config-test.yml's "execute with -j": a local task printing the version downstream-job would use. */
function executeCat(version: string): Action {
  return {
    do: 'execute',
    task: 'platform: linux\ninputs: [{ name: some-resource }]\nrun: { path: cat, args: [some-resource/version] }\n',
    inputsFrom: 'downstream-job',
    expect: { exit: 0, status: 'succeeded', inOrder: [version] },
  };
}

function taskVarsCase(name: string, task: string, job: string, expect: BuildExpectation): Scenario {
  return {
    name,
    actions: [
      {
        do: 'set-pipeline',
        fixture: 'task_vars.yml',
        vars: { task_content: task, task_unwrap_content: TASK_UNWRAP },
      },
      { do: 'trigger', job, expect },
    ],
  };
}

/** Hook expectations of hooks.yml: step hook, step ensure, job hook, job ensure, and no other hook. */
function hookJob(who: string, outcome: 'success' | 'failure' | 'abort' | 'error'): string[] {
  return [
    `${who} job on ${outcome}`,
    `${who} job ensure`,
    `${who} job on job ${outcome}`,
    `${who} job on job ensure`,
  ];
}

function otherHooks(who: string, outcome: string): string[] {
  return ['success', 'failure', 'abort', 'error']
    .filter((o) => o !== outcome)
    .flatMap((o) => [`${who} job on ${o}`, `${who} job on job ${o}`]);
}

export const PLANS: Readonly<Record<string, FixturePlan>> = {
  'across.yml': {
    scenarios: [
      {
        name: 'across',
        actions: [
          { do: 'set-pipeline', fixture: 'across.yml' },
          {
            do: 'trigger',
            job: 'job',
            expect: {
              exit: 0,
              status: 'succeeded',
              inOrder: [
                ...['static1', 'static2'].flatMap((s) =>
                  ['dynamic1', 'dynamic2', 'dynamic3', '4'].map((d) => `running across ${s} ${d}`),
                ),
                ...['dynamic1', 'dynamic2', 'dynamic3', '4'].flatMap((d) => [
                  `pushing version: v_${d}`,
                  `fetching version: v_${d}`,
                ]),
              ],
            },
          },
        ],
      },
    ],
  },
  'caching.yml': {
    scenarios: [
      {
        name: 'cache',
        actions: [
          { do: 'set-pipeline', fixture: 'caching.yml' },
          { do: 'check', resource: 'some-resource', from: ['version:some-v1'], expect: { exit: 0 } },
          { do: 'check', resource: 'cached-resource', from: ['version:cached-v1'], expect: { exit: 0 } },
          {
            do: 'trigger',
            job: 'some-passing-job',
            expect: {
              exit: 0,
              status: 'succeeded',
              inOrder: [['fetching version: some-v1', 'fetching version: cached-v1']],
            },
          },
          { do: 'check', resource: 'some-resource', from: ['version:some-v2'], expect: { exit: 0 } },
          {
            do: 'trigger',
            job: 'some-passing-job',
            expect: {
              exit: 0,
              status: 'succeeded',
              // The unchanged resource comes from the resource cache: no second "fetching".
              inOrder: ['fetching version: some-v2', 'INFO: found existing resource cache'],
              absent: ['fetching version: cached'],
            },
          },
        ],
      },
    ],
  },
  'clear-task-cache.yml': {
    scenarios: [
      {
        name: 'cache',
        actions: [
          { do: 'set-pipeline', fixture: 'clear-task-cache.yml' },
          {
            do: 'trigger',
            job: 'clear-task-cache',
            expect: {
              exit: 0,
              status: 'succeeded',
              inOrder: ['created-cache-file'],
              absent: ['the-cached-file-already-exists'],
            },
          },
          {
            do: 'trigger',
            job: 'clear-task-cache',
            expect: {
              exit: 0,
              status: 'succeeded',
              inOrder: ['the-cached-file-already-exists'],
              absent: ['created-cache-file'],
            },
          },
          {
            do: 'clear-task-cache',
            job: 'clear-task-cache',
            step: 'some-task',
            expect: { exit: 0, inOrder: ['1 caches removed'] },
          },
          {
            do: 'trigger',
            job: 'clear-task-cache',
            expect: {
              exit: 0,
              status: 'succeeded',
              inOrder: ['created-cache-file'],
              absent: ['the-cached-file-already-exists'],
            },
          },
        ],
      },
    ],
  },
  'config-test.yml': {
    scenarios: [
      {
        name: 'passed',
        actions: [
          { do: 'set-pipeline', fixture: 'config-test.yml' },
          { do: 'check', resource: 'some-resource', from: ['version:first-version'], expect: { exit: 0 } },
          {
            do: 'trigger',
            job: 'upstream-job',
            expect: { exit: 0, status: 'succeeded', inOrder: ['fetching version: first-version'] },
          },
          { do: 'trigger', job: 'downstream-job', expect: { exit: 0, status: 'succeeded' } },
          { do: 'fetched', job: 'downstream-job', build: '1', versions: ['first-version'] },
          executeCat('first-version'),
          // second-version has not passed upstream-job: downstream-job must still use first-version.
          { do: 'check', resource: 'some-resource', from: ['version:second-version'], expect: { exit: 0 } },
          executeCat('first-version'),
          {
            do: 'trigger',
            job: 'downstream-job',
            expect: { exit: 0, status: 'succeeded', absent: ['second-version'] },
          },
          { do: 'fetched', job: 'downstream-job', build: '2', versions: ['first-version'] },
          {
            do: 'trigger',
            job: 'upstream-job',
            expect: { exit: 0, status: 'succeeded', inOrder: ['fetching version: second-version'] },
          },
          { do: 'trigger', job: 'downstream-job', expect: { exit: 0, status: 'succeeded' } },
          { do: 'fetched', job: 'downstream-job', build: '3', versions: ['second-version'] },
          executeCat('second-version'),
        ],
      },
    ],
  },
  'container_limits.yml': {
    scenarios: [
      {
        name: 'limits',
        actions: [
          { do: 'set-pipeline', fixture: 'container_limits.yml' },
          {
            do: 'trigger',
            job: 'container-limits-job',
            expect: { exit: 0, status: 'succeeded', inOrder: ['initializing', 'hello'] },
          },
        ],
      },
    ],
  },
  'do.yml': {
    scenarios: [
      {
        name: 'do',
        actions: [
          { do: 'set-pipeline', fixture: 'do.yml' },
          {
            do: 'trigger',
            job: 'do-job',
            expect: {
              exit: 0,
              status: 'succeeded',
              inOrder: ['running do step 1', 'running do step 2', 'running do step 3'],
            },
          },
        ],
      },
    ],
  },
  'hooks.yml': {
    // list-builds alone runs eight builds of hooks.yml's longest job.
    timeoutMs: 240_000,
    scenarios: [
      {
        // Concourse's list_builds_test: hidden and exposed copies in both teams.
        name: 'list-builds',
        actions: [
          ...(['tf-hidden', 'tf-exposed', 'main-hidden', 'main-exposed'] as const).flatMap((copy) => {
            const where = {
              pipeline: `{P}-${copy}`,
              ...(copy.startsWith('tf-') ? { team: SECOND_TEAM } : {}),
            };
            return [
              { do: 'set-pipeline', fixture: 'hooks.yml', ...where },
              ...(copy.endsWith('-exposed') ? [{ do: 'expose', ...where }] : []),
              { do: 'trigger', job: 'some-passing-job', expect: { exit: 0, status: 'succeeded' }, ...where },
            ] as Action[];
          }),
          {
            do: 'builds',
            team: SECOND_TEAM,
            pipeline: '{P}-tf-exposed',
            contains: ['{P}-tf-exposed/some-passing-job'],
          },
          {
            do: 'builds',
            team: SECOND_TEAM,
            pipeline: '{P}-tf-hidden',
            contains: ['{P}-tf-hidden/some-passing-job'],
          },
          ...[1, 2, 3, 4].map((): Action => ({
            do: 'trigger',
            pipeline: '{P}-main-exposed',
            job: 'some-passing-job',
            expect: { exit: 0, status: 'succeeded' },
          })),
          { do: 'builds-window', pipeline: '{P}-main-exposed', job: 'some-passing-job' },
          {
            do: 'builds-of-team',
            of: SECOND_TEAM,
            contains: ['{P}-tf-exposed'],
            absent: ['{P}-main-exposed'],
          },
        ],
      },
      {
        name: 'passing',
        actions: [
          { do: 'set-pipeline', fixture: 'hooks.yml' },
          {
            do: 'trigger',
            job: 'some-passing-job',
            expect: {
              exit: 0,
              status: 'succeeded',
              inOrder: hookJob('passing', 'success'),
              absent: otherHooks('passing', 'success'),
            },
          },
        ],
      },
      {
        name: 'failing',
        actions: [
          { do: 'set-pipeline', fixture: 'hooks.yml' },
          {
            do: 'trigger',
            job: 'some-failing-job',
            expect: {
              exit: 1,
              status: 'failed',
              inOrder: hookJob('failing', 'failure'),
              absent: otherHooks('failing', 'failure'),
            },
          },
        ],
      },
      {
        name: 'aborted',
        actions: [
          { do: 'set-pipeline', fixture: 'hooks.yml' },
          {
            do: 'trigger',
            job: 'some-aborted-job',
            abortAfterLine: 'waiting to be aborted',
            expect: {
              exit: 3,
              status: 'aborted',
              inOrder: [
                { header: /^running sh -c .*echo waiting to be aborted/s },
                'waiting to be aborted',
                'interrupted',
                ...hookJob('aborted', 'abort'),
              ],
              absent: otherHooks('aborted', 'abort'),
            },
          },
        ],
      },
      {
        name: 'errored',
        actions: [
          { do: 'set-pipeline', fixture: 'hooks.yml' },
          {
            do: 'trigger',
            job: 'some-errored-job',
            expect: {
              exit: 2,
              status: 'errored',
              inOrder: hookJob('errored', 'error'),
              absent: otherHooks('errored', 'error'),
            },
          },
        ],
      },
    ],
  },
  'image-resource-with-params.yml': {
    scenarios: [
      {
        name: 'cache',
        actions: [
          { do: 'set-pipeline', fixture: 'image-resource-with-params.yml' },
          {
            do: 'trigger',
            job: 'with-params',
            expect: { exit: 0, status: 'succeeded', inOrder: ['fetching version: initial-version-uuid'] },
          },
          {
            do: 'trigger',
            job: 'image-resource-with-params',
            expect: { exit: 0, status: 'succeeded', absent: ['fetching'] },
          },
          {
            do: 'trigger',
            job: 'image-resource-without-params',
            expect: { exit: 0, status: 'succeeded', inOrder: ['fetching version: initial-version-uuid'] },
          },
          {
            do: 'trigger',
            job: 'without-params',
            expect: { exit: 0, status: 'succeeded', absent: ['fetching version: initial-version-uuid'] },
          },
        ],
      },
    ],
  },
  'many-inputs.yml': {
    scenarios: [
      {
        name: 'inputs',
        actions: [
          { do: 'set-pipeline', fixture: 'many-inputs.yml' },
          { do: 'check', resource: 'some-resource-a', from: ['version:va'], expect: { exit: 0 } },
          { do: 'check', resource: 'some-resource-b', from: ['version:vb'], expect: { exit: 0 } },
          {
            do: 'trigger',
            job: 'some-job',
            expect: { exit: 0, status: 'succeeded', inOrder: ['initializing', 'a has va', 'b has vb'] },
          },
          {
            do: 'execute',
            task: CAT_FILES,
            inputsFrom: 'some-job',
            expect: { exit: 0, status: 'succeeded', inOrder: ['initializing', 'a has va', 'b has vb'] },
          },
          {
            do: 'execute',
            task: CAT_FILES,
            inputsFrom: 'some-job',
            inputs: { 'some-resource-b': { version: 'some-overridden-version\n' } },
            expect: {
              exit: 0,
              status: 'succeeded',
              inOrder: ['initializing', 'a has va', 'b has some-overridden-version'],
            },
          },
        ],
      },
    ],
  },
  'matrix.yml': {
    scenarios: [
      {
        name: 'matrix',
        actions: [
          { do: 'set-pipeline', fixture: 'matrix.yml' },
          {
            do: 'trigger',
            job: 'fancy-build-matrix',
            expect: {
              exit: 1,
              status: 'failed',
              inOrder: [
                'passing-unit-1/file passing-unit-2/file initial-version-uuid',
                'failed in_parallel initial-version-uuid',
              ],
            },
          },
        ],
      },
    ],
  },
  'nested-config-test.yml': {
    scenarios: [
      {
        name: 'nested',
        actions: [
          { do: 'set-pipeline', fixture: 'nested-config-test.yml' },
          { do: 'trigger', job: 'config-test', expect: { exit: 0, status: 'succeeded' } },
        ],
      },
    ],
  },
  'optional-inputs.yml': {
    scenarios: [
      {
        name: 'optional',
        actions: [
          { do: 'set-pipeline', fixture: 'optional-inputs.yml' },
          {
            do: 'trigger',
            job: 'job-using-optional-inputs',
            expect: {
              exit: 0,
              status: 'succeeded',
              inOrder: [
                'step 1 complete: generated some required data',
                'step 2 complete: tolerates missing optional inputs',
                'step 3 complete: sees mapped optional inputs',
                'SUCCESS',
              ],
            },
          },
        ],
      },
    ],
  },
  'pinned-version.yml': {
    scenarios: [
      {
        name: 'pinned',
        actions: [
          { do: 'set-pipeline', fixture: 'resource-version-every.yml' },
          ...['guid1', 'guid2', 'guid3', 'guid4'].map((v): Action => ({
            do: 'check',
            resource: 'some-resource',
            from: [`version:${v}`],
            expect: { exit: 0 },
          })),
          { do: 'set-pipeline', fixture: 'pinned-version.yml', vars: { pinned_version: 'guid3' } },
          {
            do: 'trigger',
            job: 'some-passing-job',
            expect: {
              exit: 0,
              status: 'succeeded',
              inOrder: ['guid3'],
              absent: ['guid4'],
            },
          },
        ],
      },
    ],
  },
  'propagation.yml': {
    scenarios: [
      {
        name: 'propagation',
        actions: [
          { do: 'set-pipeline', fixture: 'propagation.yml' },
          { do: 'trigger', job: 'first-job', expect: { exit: 0, status: 'succeeded' } },
          { do: 'trigger', job: 'pushing-job', expect: { exit: 0, status: 'succeeded' } },
          { do: 'trigger', job: 'downstream-job', expect: { exit: 0, status: 'succeeded' } },
        ],
      },
    ],
  },
  'reconfiguring.yml': {
    scenarios: [
      {
        name: 'reconfigure',
        actions: [
          { do: 'set-pipeline', fixture: 'reconfiguring.yml', vars: { force_version: 'guid1' } },
          {
            do: 'trigger',
            job: 'some-passing-job',
            expect: { exit: 0, status: 'succeeded', inOrder: ['fetching version: guid1'] },
          },
          { do: 'set-pipeline', fixture: 'reconfiguring.yml', vars: { force_version: 'guid2' } },
          {
            do: 'trigger',
            job: 'some-passing-job',
            expect: { exit: 0, status: 'succeeded', inOrder: ['fetching version: guid2'] },
          },
        ],
      },
    ],
  },
  'recursive-resource-checking.yml': {
    scenarios: [
      {
        name: 'chain',
        actions: [
          { do: 'set-pipeline', fixture: 'recursive-resource-checking.yml' },
          {
            do: 'check',
            resource: 'recursive-custom-resource',
            expect: {
              exit: 0,
              inOrder: [
                'initializing check: recursive-custom-resource',
                'initializing check: mock-resource-grandchild',
                'initializing check: mock-resource-child',
                'initializing check: mock-resource-parent',
                'succeeded',
              ],
            },
          },
        ],
      },
    ],
  },
  'rename-simple.yml': {
    scenarios: [
      {
        name: 'rename-job',
        actions: [
          { do: 'set-pipeline', fixture: 'simple.yml' },
          {
            do: 'trigger',
            job: 'simple',
            expect: { exit: 0, status: 'succeeded', inOrder: ['Hello, world!'] },
          },
          { do: 'set-pipeline', fixture: 'rename-simple.yml' },
          { do: 'builds', contains: ['{P}/rename-simple'], absent: ['{P}/simple'], rows: 1 },
        ],
      },
    ],
  },
  'resource-check.yml': {
    scenarios: [
      {
        name: 'ok',
        actions: [
          { do: 'set-pipeline', fixture: 'resource-check.yml', vars: { check_failure: '' } },
          {
            do: 'check',
            resource: 'my-resource',
            expect: { exit: 0, inOrder: ['initializing check: my-resource', 'succeeded'] },
          },
          {
            do: 'resource-versions',
            resource: 'my-resource',
            expect: { exit: 0, inOrder: [{ row: ['version:unique-version-uuid'] }] },
          },
        ],
      },
      {
        name: 'failing',
        actions: [
          { do: 'set-pipeline', fixture: 'resource-check.yml', vars: { check_failure: 'super broken' } },
          {
            do: 'check',
            resource: 'my-resource',
            expect: { exit: 1, inOrder: ['intentionally failing to check: super broken', 'failed'] },
          },
          { do: 'resources', expect: { exit: 0, inOrder: [{ row: ['my-resource', 'failed'] }] } },
        ],
      },
    ],
  },
  'resource-type-defaults.yml': {
    scenarios: [
      {
        name: 'defaults',
        actions: [
          { do: 'set-pipeline', fixture: 'resource-type-defaults.yml' },
          {
            do: 'trigger',
            job: 'some-job',
            expect: {
              exit: 0,
              status: 'succeeded',
              inOrder: [
                'defaulted',
                'fetching version: hash-uuid',
                'defaulted',
                'pushing version: put-version',
                'defaulted',
                'fetching version: put-version',
              ],
            },
          },
        ],
      },
    ],
  },
  'resource-types-privileged.yml': {
    // The suite's unprivileged put check greps a text the mock never prints; this one checks that the
    // put does not say it is privileged.
    note: 'a process pool runs the mock type, which reports the privileged flag (no container)',
    scenarios: [
      {
        name: 'privileged',
        actions: [
          { do: 'set-pipeline', fixture: 'resource-types-privileged.yml', vars: { privileged: true } },
          {
            do: 'trigger',
            job: 'resource-getter',
            expect: { exit: 0, status: 'succeeded', inOrder: ['privileged: true'] },
          },
          {
            do: 'resource-versions',
            resource: 'my-resource',
            expect: { exit: 0, inOrder: [{ row: ['privileged:true,version:mock'] }] },
          },
          {
            do: 'trigger',
            job: 'resource-putter',
            expect: { exit: 0, status: 'succeeded', inOrder: ['pushing in a privileged container'] },
          },
        ],
      },
      {
        name: 'unprivileged',
        actions: [
          { do: 'set-pipeline', fixture: 'resource-types-privileged.yml', vars: { privileged: false } },
          {
            do: 'trigger',
            job: 'resource-getter',
            expect: { exit: 0, status: 'succeeded', inOrder: ['privileged: false'] },
          },
          {
            do: 'resource-versions',
            resource: 'my-resource',
            expect: { exit: 0, inOrder: [{ row: ['version:mock'] }], absent: ['privileged:true'] },
          },
          {
            do: 'trigger',
            job: 'resource-putter',
            expect: {
              exit: 0,
              status: 'succeeded',
              inOrder: ['pushing version: some-pushed-version'],
              absent: ['pushing in a privileged container'],
            },
          },
        ],
      },
    ],
  },
  'resource-types.yml': {
    scenarios: [
      {
        name: 'types',
        actions: [
          { do: 'set-pipeline', fixture: 'resource-types.yml' },
          {
            do: 'trigger',
            job: 'resource-getter',
            expect: { exit: 0, status: 'succeeded', inOrder: ['fetched version: hash-uuid'] },
          },
          {
            do: 'trigger',
            job: 'resource-putter',
            expect: { exit: 0, status: 'succeeded', inOrder: ['pushing version: some-pushed-version'] },
          },
          {
            do: 'trigger',
            job: 'resource-image-resourcer',
            expect: { exit: 0, status: 'succeeded', inOrder: ['MIRRORED_VERSION=image-version'] },
          },
          {
            do: 'check',
            resource: 'my-resource',
            expect: {
              exit: 0,
              inOrder: [
                'initializing check: my-resource',
                'initializing check: custom-resource-type',
                'succeeded',
              ],
            },
          },
          { do: 'check', resource: 'my-resource-image', expect: { exit: 0, inOrder: ['succeeded'] } },
        ],
      },
      {
        name: 'type-checks',
        actions: [
          { do: 'set-pipeline', fixture: 'resource-types.yml' },
          { do: 'check', resource: 'my-resource-image', expect: { exit: 0, inOrder: ['succeeded'] } },
          { do: 'check-type', type: 'custom-resource-type', expect: { exit: 0, inOrder: ['succeeded'] } },
          {
            do: 'check-type',
            type: 'custom-resource-type',
            from: ['version:new-type-version'],
            expect: { exit: 0, inOrder: ['succeeded'] },
          },
          {
            do: 'trigger',
            job: 'resource-imager',
            expect: { exit: 0, status: 'succeeded', inOrder: ['MIRRORED_VERSION=new-type-version'] },
          },
          {
            do: 'check-type',
            type: 'failing-custom-resource-type',
            expect: {
              exit: 1,
              inOrder: ['intentionally failing to check: im totally failing to check', 'failed'],
            },
          },
        ],
      },
    ],
  },
  'resource-version-every.yml': {
    scenarios: [
      {
        name: 'every',
        actions: [
          { do: 'set-pipeline', fixture: 'resource-version-every.yml' },
          { do: 'check', resource: 'some-resource', from: ['version:guid1'], expect: { exit: 0 } },
          {
            do: 'trigger',
            job: 'some-passing-job',
            expect: { exit: 0, status: 'succeeded', inOrder: ['guid1'] },
          },
          ...['guid2', 'guid3', 'guid4'].map((v): Action => ({
            do: 'check',
            resource: 'some-resource',
            from: [`version:${v}`],
            expect: { exit: 0 },
          })),
          ...['guid2', 'guid3', 'guid4'].map((v): Action => ({
            do: 'trigger',
            job: 'some-passing-job',
            expect: { exit: 0, status: 'succeeded', inOrder: [v] },
          })),
        ],
      },
    ],
  },
  'serial-groups.yml': {
    scenarios: [
      {
        // A build of the group that waits for inputs does not hold the group.
        name: 'pending',
        actions: [
          { do: 'set-pipeline', fixture: 'serial-groups.yml' },
          { do: 'start', job: 'some-pending-job', as: 'pending' },
          { do: 'trigger', job: 'some-passing-job', expect: { exit: 0, status: 'succeeded' } },
          { do: 'still-running', build: 'pending', forMs: 1000 },
          // Once its input has a version the pending build runs (instead of fly's interrupt).
          { do: 'check', resource: 'pending-resource', from: ['version:pending-v1'], expect: { exit: 0 } },
          {
            do: 'await',
            build: 'pending',
            expect: { exit: 0, status: 'succeeded', inOrder: ['fetching version: pending-v1'] },
          },
        ],
      },
      {
        // Two builds of the group that can both run: the second waits until the first ends.
        name: 'contend',
        actions: [
          { do: 'set-pipeline', fixture: 'serial-groups.yml' },
          { do: 'check', resource: 'pending-resource', from: ['version:pending-v1'], expect: { exit: 0 } },
          { do: 'pause' },
          { do: 'start', job: 'some-passing-job', as: 'passing' },
          { do: 'start', job: 'some-pending-job', as: 'pending' },
          // Both manual builds' input checks end before the scheduler sees them: one pass then finds
          // both runnable, starts one and holds the other.
          { do: 'check', resource: 'some-resource', expect: { exit: 0 } },
          { do: 'check', resource: 'pending-resource', expect: { exit: 0 } },
          { do: 'unpause' },
          { do: 'await', build: 'passing', expect: { exit: 0, status: 'succeeded' } },
          { do: 'await', build: 'pending', expect: { exit: 0, status: 'succeeded' } },
          {
            do: 'one-at-a-time',
            builds: ['passing', 'pending'],
            waitLine: 'pending: waiting for serial group "serial-group-1": a build of it is running',
          },
        ],
      },
      {
        // The manual trigger checks the never-checked input and does not deadlock on `serial: true`.
        name: 'serial-true',
        actions: [
          { do: 'set-pipeline', fixture: 'serial-groups.yml' },
          {
            do: 'trigger',
            job: 'serial-true-job',
            expect: { exit: 0, status: 'succeeded' },
          },
        ],
      },
    ],
  },
  'set-pipeline.yml': {
    scenarios: [
      {
        name: 'instance',
        actions: [
          {
            do: 'set-pipeline',
            fixture: 'set-pipeline.yml',
            vars: { pipeline_name: 'tf-set-pipeline-instanced-child', team_name: 'main' },
          },
          {
            do: 'trigger',
            job: 'sp-with-instance-vars',
            expect: {
              exit: 0,
              status: 'succeeded',
              inOrder: [
                'setting pipeline: tf-set-pipeline-instanced-child/greetings:instanced-pipeline',
                'done',
              ],
            },
          },
          // The instance's var `greetings` is its instance var.
          {
            do: 'trigger',
            pipeline: 'tf-set-pipeline-instanced-child/greetings:instanced-pipeline',
            job: 'normal-job',
            expect: { exit: 0, status: 'succeeded', inOrder: ['instanced-pipeline'] },
          },
        ],
      },
      {
        name: 'other-team',
        actions: [
          {
            do: 'set-pipeline',
            fixture: 'set-pipeline.yml',
            vars: { pipeline_name: 'tf-set-pipeline-team-child', team_name: SECOND_TEAM },
          },
          {
            do: 'trigger',
            job: 'sp',
            expect: {
              exit: 0,
              status: 'succeeded',
              inOrder: ['setting pipeline: tf-set-pipeline-team-child', 'done'],
            },
          },
          {
            do: 'trigger',
            team: SECOND_TEAM,
            pipeline: 'tf-set-pipeline-team-child',
            job: 'normal-job',
            expect: { exit: 0, status: 'succeeded', inOrder: ['hello world'] },
          },
        ],
      },
      {
        name: 'refused',
        actions: [
          {
            do: 'set-pipeline',
            team: SECOND_TEAM,
            fixture: 'set-pipeline.yml',
            vars: { pipeline_name: 'tf-set-pipeline-refused-child', team_name: 'main' },
          },
          {
            do: 'trigger',
            team: SECOND_TEAM,
            job: 'sp',
            expect: {
              exit: 2,
              status: 'errored',
              inOrder: ["only main team can set another team's pipeline"],
            },
          },
          {
            do: 'resources',
            pipeline: 'tf-set-pipeline-refused-child',
            expect: { exit: 1, inOrder: ['error: pipeline "tf-set-pipeline-refused-child" not found'] },
          },
        ],
      },
      {
        name: 'child',
        actions: [
          {
            do: 'set-pipeline',
            fixture: 'set-pipeline.yml',
            vars: { pipeline_name: 'tf-set-pipeline-the-child', team_name: 'main' },
          },
          // The child does not exist until sp sets it.
          {
            do: 'resources',
            pipeline: 'tf-set-pipeline-the-child',
            expect: { exit: 1, inOrder: ['error: pipeline "tf-set-pipeline-the-child" not found'] },
          },
          {
            do: 'trigger',
            job: 'sp',
            expect: {
              exit: 0,
              status: 'succeeded',
              inOrder: ['setting pipeline: tf-set-pipeline-the-child', 'done'],
            },
          },
          {
            do: 'trigger',
            pipeline: 'tf-set-pipeline-the-child',
            job: 'normal-job',
            expect: { exit: 0, status: 'succeeded', inOrder: ['hello world'] },
          },
        ],
      },
      {
        name: 'self',
        actions: [
          {
            do: 'set-pipeline',
            fixture: 'set-pipeline.yml',
            vars: { pipeline_name: 'self', team_name: 'main' },
          },
          {
            do: 'trigger',
            job: 'sp',
            expect: {
              exit: 0,
              status: 'succeeded',
              inOrder: ['setting pipeline: tf-set-pipeline-self', 'done'],
            },
          },
          {
            do: 'trigger',
            job: 'normal-job',
            expect: { exit: 0, status: 'succeeded', inOrder: ['hello world'] },
          },
        ],
      },
    ],
  },
  'simple-trigger.yml': {
    scenarios: [
      {
        name: 'trigger',
        actions: [
          { do: 'set-pipeline', fixture: 'simple-trigger.yml' },
          { do: 'check', resource: 'some-resource', from: ['version:first-version'], expect: { exit: 0 } },
          {
            do: 'watch',
            job: 'some-passing-job',
            build: '1',
            expect: {
              exit: 0,
              status: 'succeeded',
              inOrder: ['first-version'],
            },
          },
          { do: 'check', resource: 'some-resource', from: ['version:second-version'], expect: { exit: 0 } },
          {
            do: 'watch',
            job: 'some-passing-job',
            build: '2',
            expect: {
              exit: 0,
              status: 'succeeded',
              inOrder: ['second-version'],
            },
          },
          // Rerun spec: 1.1 with build 1's version, while the job's latest build stays 2.
          {
            do: 'rerun',
            job: 'some-passing-job',
            build: '1',
            name: '1.1',
            expect: { exit: 0, status: 'succeeded', inOrder: ['first-version'] },
          },
          {
            do: 'watch',
            job: 'some-passing-job',
            expect: { exit: 0, status: 'succeeded', inOrder: ['second-version'] },
          },
          { do: 'builds', contains: ['1.1'] },
          {
            do: 'rerun',
            job: 'some-passing-job',
            build: '1.1',
            name: '1.2',
            expect: { exit: 0, status: 'succeeded', inOrder: ['first-version'] },
          },
        ],
      },
    ],
  },
  'simple.yml': {
    scenarios: [
      {
        name: 'hello',
        actions: [
          { do: 'set-pipeline', fixture: 'simple.yml' },
          {
            do: 'trigger',
            job: 'simple',
            expect: { exit: 0, status: 'succeeded', inOrder: ['initializing', 'Hello, world!'] },
          },
          // rename_pipeline spec: the job runs again under the new name.
          {
            do: 'rename',
            to: '{P}-renamed',
            expect: { exit: 0, inOrder: ['pipeline successfully renamed to {P}-renamed'] },
          },
          {
            do: 'trigger',
            pipeline: '{P}-renamed',
            job: 'simple',
            expect: { exit: 0, status: 'succeeded', inOrder: ['Hello, world!'] },
          },
        ],
      },
    ],
  },
  'task-outputs.yml': {
    scenarios: [
      {
        name: 'outputs',
        actions: [
          { do: 'set-pipeline', fixture: 'task-outputs.yml' },
          {
            do: 'trigger',
            job: 'some-job',
            expect: {
              exit: 0,
              status: 'succeeded',
              // `find .` lists in directory order, so the two files only have to follow "initializing".
              inOrder: ['initializing', ['./output-1/file-1', './output-2/file-2']],
            },
          },
        ],
      },
    ],
  },
  'task_vars.yml': {
    scenarios: [
      {
        name: 'execute',
        actions: [
          {
            do: 'execute',
            task: TASK_ECHO_VARS,
            flags: ['-v', 'image_resource_type=mock', '-v', 'echo_text=Hello World From Command Line'],
            expect: { exit: 0, status: 'succeeded', inOrder: ['Hello World From Command Line'] },
          },
          {
            do: 'execute',
            task: TASK_ECHO_VARS,
            varsFile: 'image_resource_type: mock\necho_text: Hello World From Command Line\n',
            expect: { exit: 0, status: 'succeeded', inOrder: ['Hello World From Command Line'] },
          },
          {
            do: 'execute',
            task: TASK_ECHO_VARS,
            flags: ['-v', 'image_resource_type=mock'],
            expect: { exit: 2, status: 'errored', inOrder: ['undefined vars: echo_text'] },
          },
        ],
      },
      taskVarsCase('success', TASK_ECHO, 'external-task-success', {
        exit: 0,
        status: 'succeeded',
        inOrder: ['Hello World'],
      }),
      taskVarsCase('failure', TASK_ECHO, 'external-task-failure', {
        exit: 2,
        status: 'errored',
        inOrder: ['undefined vars: echo_text'],
      }),
      taskVarsCase('load-var', TASK_ECHO, 'external-task-vars-from-load-var', {
        exit: 0,
        status: 'succeeded',
        inOrder: ['bar'],
      }),
      taskVarsCase(
        'var-source',
        TASK_VAR_SOURCE,
        'task-var-is-defined-but-task-also-needs-vars-from-var-sources',
        {
          exit: 0,
          status: 'succeeded',
          // The secret is masked where fly shows it: in the task's `running` header.
          inOrder: [{ header: /\(\(redacted\)\)/ }, 'text-from', '-var-source'],
          absent: ['text-from-var-source'],
        },
      ),
    ],
  },
  'timeout.yml': {
    scenarios: [
      {
        // Both at once, as the suite triggers them.
        name: 'both',
        actions: [
          { do: 'set-pipeline', fixture: 'timeout.yml' },
          { do: 'start', job: 'duration-successful-job', as: 'passing' },
          { do: 'start', job: 'duration-fail-job', as: 'failing' },
          {
            do: 'await',
            build: 'passing',
            expect: { exit: 0, status: 'succeeded', inOrder: ['initializing', 'passing-task succeeded'] },
          },
          {
            do: 'await',
            build: 'failing',
            expect: { exit: 1, status: 'failed', inOrder: ['initializing', 'timeout exceeded'] },
          },
        ],
      },
    ],
  },
};
