// What run.test.ts does with each testflight fixture (../shared/conformance/testflight): either the
// scenario(s) its README section describes, as data, or why it cannot run at this stage.
//
// Outpost runs task, get and put steps with the built-in mock type, checks, and the scheduler; a task's
// `image_resource` is ignored (the process executor runs on the host). A fixture that needs what the
// README names as extras (IMG image emulation, execute, rerun-build, teams...) is `not-run` (or runs
// only its class-A part) with the missing feature named.

/** A build's final status word, as fly prints it on the last line. */
export type BuildStatus = 'succeeded' | 'failed' | 'errored' | 'aborted';

/** What `trigger-job -w` must show. `{P}` in any string stands for the case's pipeline name. */
export interface BuildExpectation {
  /** fly's exit code: succeeded 0, failed 1, errored 2, aborted 3 (or the last non-zero task exit). */
  exit: number;
  /** The status word on the last line of the output. */
  status: BuildStatus;
  /**
   * Substrings of stdout that must appear in this order, each after the end of the previous one. A group
   * (array) is matched in any order after the previous entry; the next entry must follow all of it.
   */
  inOrder?: (string | string[])[];
  /** Substrings that must not appear anywhere in stdout. */
  absent?: string[];
}

export type Action =
  /** set-pipeline -n -c <fixture, with `vars` interpolated> into the case's pipeline. */
  | { do: 'set-pipeline'; fixture: string; vars?: Record<string, unknown> }
  /**
   * trigger-job -j {P}/job -w. With `abortAfterLine`, once stdout has a line exactly equal to it, runs
   * `abort-build -j {P}/job -b <the started build>` (which must exit 0) and then waits for the watch.
   */
  | {
      do: 'trigger';
      job: string;
      expect: BuildExpectation;
      abortAfterLine?: string;
      /** Another pipeline than the case's (`{P}` stands for the case's). */
      pipeline?: string;
    }
  /** builds -p {P}: substrings present/absent, and how many rows name the pipeline. */
  | { do: 'builds'; contains: string[]; absent?: string[]; rows?: number }
  /** check-resource -r {P}/resource [-f key:value ...]: exit code and output. */
  | { do: 'check'; resource: string; from?: string[]; expect: CommandExpectation }
  /** check-resource-type -r {P}/type [-f key:value ...]: exit code and output. */
  | { do: 'check-type'; type: string; from?: string[]; expect: CommandExpectation }
  /** resource-versions -r {P}/resource: output. */
  | { do: 'resource-versions'; resource: string; expect: CommandExpectation }
  /** resources -p {P}: output. */
  | { do: 'resources'; expect: CommandExpectation }
  /** watch -j {P}/job -b build (waits for the build to exist): as trigger, without the `started` line. */
  | { do: 'watch'; job: string; build: string; expect: BuildExpectation };

/** What a plain command must show. */
export interface CommandExpectation {
  exit: number;
  inOrder?: string[];
  absent?: string[];
}

export interface Scenario {
  /** Short name; the pipeline is `tf-<fixture>-<name>`. */
  name: string;
  actions: Action[];
}

export type FixturePlan = { scenarios: Scenario[]; note?: string } | { notRun: string };

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
              inOrder: ['fetching version: some-v2'],
              absent: ['fetching version: cached-v1'],
            },
          },
        ],
      },
    ],
  },
  'clear-task-cache.yml': {
    note: 'the clear-task-cache command is B, not run; the cache kept between builds is checked',
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
        ],
      },
    ],
  },
  'config-test.yml': {
    note: 'execute -j (one-off builds) is B, not run; the passed chain it reads from is checked',
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
          // Served from the resource cache that upstream-job's fetch filled: no second "fetching".
          {
            do: 'trigger',
            job: 'downstream-job',
            expect: { exit: 0, status: 'succeeded', absent: ['fetching version'] },
          },
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
    note: 'list_builds_test part (teams, expose-pipeline, builds --team/--since) is B, not run',
    scenarios: [
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
                'running sh -c',
                'echo waiting to be aborted',
                '\nwaiting to be aborted\n',
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
    note: 'execute --inputs-from (one-off builds) is B, not run; the pipeline part is checked',
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
              inOrder: ['step 1 complete', 'step 2 complete', 'step 3 complete', 'SUCCESS'],
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
            expect: { exit: 0, status: 'succeeded', inOrder: ['guid3'], absent: ['guid4'] },
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
            expect: { exit: 0, status: 'succeeded', inOrder: ['guid1'] },
          },
          { do: 'set-pipeline', fixture: 'reconfiguring.yml', vars: { force_version: 'guid2' } },
          {
            do: 'trigger',
            job: 'some-passing-job',
            expect: { exit: 0, status: 'succeeded', inOrder: ['guid2'] },
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
                'recursive-custom-resource',
                'mock-resource-grandchild',
                'mock-resource-child',
                'mock-resource-parent',
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
            expect: { exit: 0, inOrder: ['my-resource', 'succeeded'] },
          },
          {
            do: 'resource-versions',
            resource: 'my-resource',
            expect: { exit: 0, inOrder: ['unique-version-uuid'] },
          },
        ],
      },
      {
        name: 'failing',
        actions: [
          { do: 'set-pipeline', fixture: 'resource-check.yml', vars: { check_failure: 'super broken' } },
          { do: 'check', resource: 'my-resource', expect: { exit: 1, inOrder: ['super broken', 'failed'] } },
          { do: 'resources', expect: { exit: 0, inOrder: ['my-resource', 'failed'] } },
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
            expect: { exit: 0, inOrder: ['privileged:true,version:mock'] },
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
            expect: { exit: 0, absent: ['privileged:true'] },
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
            expect: { exit: 0, inOrder: ['my-resource', 'custom-resource-type', 'succeeded'] },
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
            expect: { exit: 1, inOrder: ['im totally failing to check', 'failed'] },
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
    note: 'the background watch of the pending job is shown by the pending build instead',
    scenarios: [
      {
        name: 'groups',
        actions: [
          { do: 'set-pipeline', fixture: 'serial-groups.yml' },
          { do: 'trigger', job: 'some-passing-job', expect: { exit: 0, status: 'succeeded' } },
        ],
      },
      {
        name: 'serial-true',
        actions: [
          { do: 'set-pipeline', fixture: 'serial-groups.yml' },
          { do: 'trigger', job: 'serial-true-job', expect: { exit: 0, status: 'succeeded' } },
        ],
      },
    ],
  },
  'set-pipeline.yml': {
    note: 'cases 1 and 5 run; several teams (3, 4) are B and instance vars (2) are C, not run',
    scenarios: [
      {
        name: 'child',
        actions: [
          {
            do: 'set-pipeline',
            fixture: 'set-pipeline.yml',
            vars: { pipeline_name: 'tf-set-pipeline-the-child', team_name: 'main' },
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
    note: 'rerun-build spec is B, not run',
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
            expect: { exit: 0, status: 'succeeded', inOrder: ['first-version'] },
          },
          { do: 'check', resource: 'some-resource', from: ['version:second-version'], expect: { exit: 0 } },
          {
            do: 'watch',
            job: 'some-passing-job',
            build: '2',
            expect: { exit: 0, status: 'succeeded', inOrder: ['second-version'] },
          },
        ],
      },
    ],
  },
  'simple.yml': {
    note: 'rename_pipeline spec is B (no rename-pipeline), not run',
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
    note: 'execute -v/-l specs are B, not run',
    scenarios: [
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
          inOrder: ['((redacted))', 'text-from', '-var-source'],
          absent: ['text-from-var-source'],
        },
      ),
    ],
  },
  'timeout.yml': {
    scenarios: [
      {
        name: 'passing',
        actions: [
          { do: 'set-pipeline', fixture: 'timeout.yml' },
          {
            do: 'trigger',
            job: 'duration-successful-job',
            expect: { exit: 0, status: 'succeeded', inOrder: ['initializing', 'passing-task succeeded'] },
          },
        ],
      },
      {
        name: 'failing',
        actions: [
          { do: 'set-pipeline', fixture: 'timeout.yml' },
          {
            do: 'trigger',
            job: 'duration-fail-job',
            expect: { exit: 1, status: 'failed', inOrder: ['initializing', 'timeout exceeded'] },
          },
        ],
      },
    ],
  },
};
