// What run.test.ts does with each testflight fixture (../shared/conformance/testflight): either the
// scenario(s) its README section describes, as data, or why it cannot run at this stage.
//
// Outpost runs task steps (inline and `file:` configs), do/in_parallel/try/timeout/attempts/across and
// hooks; a task's `image_resource` is ignored (the process executor runs on the host). get/put steps,
// resource checks and the CLI operations the README names as extras do not exist yet, so a fixture that
// needs them is `not-run` with the missing feature named.

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
  | { do: 'trigger'; job: string; expect: BuildExpectation; abortAfterLine?: string }
  /** builds -p {P}: substrings present/absent, and how many rows name the pipeline. */
  | { do: 'builds'; contains: string[]; absent?: string[]; rows?: number };

export interface Scenario {
  /** Short name; the pipeline is `tf-<fixture>-<name>`. */
  name: string;
  actions: Action[];
}

export type FixturePlan = { scenarios: Scenario[]; note?: string } | { notRun: string };

const NO_GET = 'needs get steps (resources issue)';
const NO_GET_PUT = 'needs get and put steps (resources issue)';

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
  'across.yml': { notRun: `${NO_GET_PUT}; also load_var from a fetched file` },
  'caching.yml': { notRun: `${NO_GET}; check-resource -f, resource cache` },
  'clear-task-cache.yml': { notRun: `${NO_GET}; clear-task-cache command (B)` },
  'config-test.yml': { notRun: `${NO_GET}; check-resource -f, execute -j (B)` },
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
    notRun: `${NO_GET}; image fetches through the resource cache (IMG, B)`,
  },
  'many-inputs.yml': { notRun: `${NO_GET}; check-resource -f, execute --inputs-from (B)` },
  'matrix.yml': { notRun: `${NO_GET} (the tasks read some-resource/version)` },
  'nested-config-test.yml': { notRun: `${NO_GET}; custom resource types` },
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
  'pinned-version.yml': { notRun: `${NO_GET}; check-resource -f, version history across set-pipeline` },
  'propagation.yml': { notRun: `${NO_GET_PUT}; passed: constraints, forced check on manual trigger` },
  'reconfiguring.yml': { notRun: `${NO_GET}; forced check on manual trigger` },
  'recursive-resource-checking.yml': { notRun: `${NO_GET}; check-resource, custom type chain (IMG, B)` },
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
  'resource-check.yml': { notRun: 'needs check-resource, resource-versions and resources commands' },
  'resource-type-defaults.yml': { notRun: `${NO_GET_PUT}; custom resource types with defaults` },
  'resource-types-privileged.yml': {
    notRun: `${NO_GET_PUT}; privileged types, resource-versions, -y (B)`,
  },
  'resource-types.yml': { notRun: `${NO_GET_PUT}; check-resource(-type), IMG (B)` },
  'resource-version-every.yml': { notRun: `${NO_GET}; check-resource -f, version: every` },
  'serial-groups.yml': { notRun: `${NO_GET}; serial groups, forced check on manual trigger` },
  'set-pipeline.yml': { notRun: `${NO_GET} (the child config comes from a mock); teams (B)` },
  'simple-trigger.yml': { notRun: `${NO_GET}; check-resource -f, trigger: true` },
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
  'task_vars.yml': { notRun: `${NO_GET}; var_sources (dummy), execute -v/-l (B)` },
  'timeout.yml': { notRun: `${NO_GET} (\`get: image\` feeds the task's \`image:\`)` },
};
