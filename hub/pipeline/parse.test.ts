import { describe, expect, it } from 'vitest';

import { formatDiagnostic } from './diagnostics.js';
import { parsePipeline } from './parse.js';
import { parseTaskConfig } from './task-config.js';

/** Lines joined, so line N of the test source is line N of the YAML. */
const yaml = (...lines: string[]): string => lines.join('\n') + '\n';

/** What a user sees: one formatted line per diagnostic. */
function problems(source: string): string[] {
  const { pipeline, diagnostics } = parsePipeline(source, 'pipeline.yml');
  if (diagnostics.some((d) => d.severity === 'error')) expect(pipeline).toBeUndefined();
  return diagnostics.map(formatDiagnostic);
}

const okTask = ['    config:', '      platform: linux', '      run: {path: echo}'];

describe('formatDiagnostic', () => {
  it('prints file:line:col: message', () => {
    expect(formatDiagnostic({ file: 'ci/p.yml', line: 3, col: 7, severity: 'error', message: 'bad' })).toBe(
      'ci/p.yml:3:7: bad',
    );
  });
});

describe('parsePipeline', () => {
  it('parses a valid pipeline with no diagnostics', () => {
    const { pipeline, diagnostics } = parsePipeline(
      yaml('jobs:', '- name: unit', '  plan:', '  - task: test', ...okTask, '    timeout: 1h30m'),
      'p.yml',
    );
    expect(diagnostics).toEqual([]);
    expect(pipeline?.jobs).toMatchObject([
      {
        name: 'unit',
        plan: [
          {
            kind: 'task',
            task: 'test',
            timeout: '1h30m',
            config: { platform: 'linux', run: { path: 'echo' } },
          },
        ],
      },
    ]);
  });

  it('warns about a file that is not ARTIFACT/PATH, as Concourse accepts it until the step runs', () => {
    const { pipeline, diagnostics } = parsePipeline(
      yaml('jobs:', '- name: sp', '  plan:', '  - set_pipeline: self', '    file: does-not-matter'),
      'pipeline.yml',
    );
    expect(pipeline).toBeDefined();
    expect(diagnostics.map(formatDiagnostic)).toEqual([
      'pipeline.yml:5:11: file should be ARTIFACT/PATH, not "does-not-matter"; the step errors when it runs',
    ]);
  });

  it('reports an unknown field in a task step at the key', () => {
    expect(
      problems(yaml('jobs:', '- name: unit', '  plan:', '  - task: test', ...okTask, '    privilegd: true')),
    ).toEqual(['pipeline.yml:8:5: unknown field "privilegd" in task step; did you mean `privileged`?']);
  });

  it('suggests the closest key for a misspelt step action and top-level key', () => {
    expect(
      problems(yaml('resorces: []', 'jobs:', '- name: unit', '  plan:', '  - tsk: test', ...okTask)),
    ).toEqual([
      'pipeline.yml:1:1: unknown field "resorces" in pipeline; did you mean `resources`?',
      'pipeline.yml:5:5: unknown step key "tsk"; did you mean `task`?',
    ]);
  });

  it('reports every error at once, sorted by position', () => {
    const source = yaml(
      'jobs:', //                                           1
      '- name: Build', //                                   2
      '  plan:', //                                         3
      '  - task: compile', //                               4
      '    timeout: 5 minutes', //                          5
      '    config:', //                                     6
      '      platform: linux', //                           7
      '      run: {path: [make], args: [all, 2]}', //       8
      '      colour: red', //                               9
      '  - get: source', //                                10
      '- name: lint', //                                   11
      '  plan: []', //                                     12
      '  serial: maybe', //                                13
    );
    expect(problems(source)).toEqual([
      'pipeline.yml:2:9: invalid job name "Build": must start with a lowercase letter or digit and contain only lowercase letters, digits, "-", "_" and "."',
      'pipeline.yml:5:14: timeout: invalid duration "5 minutes": spaces are not allowed (write "1h30m", not "1h 30m")',
      'pipeline.yml:8:19: run.path must be a string, not a list',
      'pipeline.yml:8:39: run.args[1] must be a string, not a number',
      'pipeline.yml:9:7: unknown field "colour" in task config',
      'pipeline.yml:10:10: unknown resource "source"',
      'pipeline.yml:13:11: serial must be a boolean, not a string',
    ]);
  });

  it('reports a YAML syntax error at its position', () => {
    expect(problems(yaml('jobs:', '- name: a', '  plan: [', '    {task: t', 'foo: bar'))).toEqual([
      'pipeline.yml:5:1: invalid YAML: Flow map in block collection must be sufficiently indented and end with a }',
      'pipeline.yml:5:1: invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]',
    ]);
    expect(problems(yaml('jobs:', '- name: a', '\tplan: []'))).toEqual([
      expect.stringMatching(/^pipeline\.yml:3:1: invalid YAML: .*[Tt]ab/),
    ]);
  });

  it('explains a bad duration', () => {
    expect(
      problems(yaml('jobs:', '- name: a', '  plan:', '  - task: t', ...okTask, '    timeout: 10')),
    ).toEqual([
      'pipeline.yml:8:14: timeout: invalid duration "10": missing unit after "10" (valid units are "ns", "us", "ms", "s", "m", "h"; e.g. "10s")',
    ]);
    expect(
      problems(yaml('jobs:', '- name: a', '  plan:', '  - task: t', ...okTask, '    timeout: 0s')),
    ).toEqual(['pipeline.yml:8:14: timeout: duration must be positive, not "0s"']);
  });

  it('reports a missing run.path at the run map', () => {
    const source = yaml(
      'jobs:',
      '- name: a',
      '  plan:',
      '  - task: t',
      '    config:',
      '      platform: linux',
      '      run:',
      '        args: [x]',
    );
    expect(problems(source)).toEqual(['pipeline.yml:8:9: task config is missing run.path']);
    expect(
      problems(yaml('jobs:', '- name: a', '  plan:', '  - task: t', '    config: {run: {path: x}}')),
    ).toEqual(['pipeline.yml:5:13: task config is missing platform']);
  });

  it('resolves anchors, aliases and merge keys', () => {
    const source = yaml(
      'jobs:',
      '- name: a',
      '  plan:',
      '  - task: first',
      '    config: &base',
      '      platform: linux',
      '      params: &env {A: "1"}',
      '      run: {path: make, args: &args [all]}',
      '  - task: second',
      '    config: *base',
      '  - task: third',
      '    config:',
      '      <<: *base',
      '      params: {<<: *env, B: "2"}',
      '      run: {path: test, args: *args}',
    );
    const { pipeline, diagnostics } = parsePipeline(source, 'p.yml');
    expect(diagnostics).toEqual([]);
    const configs = pipeline?.jobs[0]?.plan.map((s) => (s.kind === 'task' ? s.config : undefined));
    expect(configs?.[1]).toEqual(configs?.[0]);
    expect(configs?.[2]).toEqual({
      platform: 'linux',
      params: { A: '1', B: '2' },
      run: { path: 'test', args: ['all'] },
    });
  });

  it('reports errors inside an anchor where the anchor is written', () => {
    const source = yaml(
      'jobs:',
      '- name: a',
      '  plan:',
      '  - task: t',
      '    config: &c {platform: linux, run: {}}',
      '  - {task: u, config: *c}',
    );
    expect(problems(source)).toEqual(['pipeline.yml:5:39: task config is missing run.path']);
  });

  it('reports undefined and self-referencing aliases', () => {
    expect(problems(yaml('jobs:', '- name: a', '  plan: *steps'))).toEqual([
      'pipeline.yml:3:9: alias "*steps" has no anchor "&steps" before it',
    ]);
    expect(problems(yaml('jobs:', '- &j', '  name: a', '  plan: []', '  <<: *j'))).toEqual([
      'pipeline.yml:5:7: alias "*j" is inside the node it refers to',
    ]);
  });

  it('reports duplicate keys and duplicate job names at the second one', () => {
    expect(problems(yaml('jobs:', '- name: a', '  plan: []', '  plan: []'))).toEqual([
      'pipeline.yml:4:3: duplicate key "plan"',
    ]);
    expect(
      problems(
        yaml('jobs:', '- name: a', '  plan: []', '- name: b', '  plan: []', '- name: a', '  plan: []'),
      ),
    ).toEqual(['pipeline.yml:6:9: duplicate job name "a" (first defined at line 2)']);
  });

  it('rejects an empty file or a document that is not a map at 1:1', () => {
    expect(problems('')).toEqual(['pipeline.yml:1:1: pipeline is empty']);
    expect(problems('# nothing yet\n')).toEqual(['pipeline.yml:1:1: pipeline is empty']);
    expect(problems(yaml('# jobs', '- name: a'))).toEqual([
      'pipeline.yml:1:1: pipeline must be a map, not a list',
    ]);
  });

  it('requires a job name and plan', () => {
    expect(problems(yaml('jobs:', '- plan: []', '- name: b', '  plan:'))).toEqual([
      'pipeline.yml:2:3: job is missing name',
      'pipeline.yml:4:3: job "b" is missing plan',
    ]);
  });

  it('coerces params to strings as written', () => {
    const source = yaml(
      'jobs:',
      '- name: a',
      '  plan:',
      '  - task: t',
      '    config:',
      '      platform: linux',
      '      run: {path: env}',
      '      params: {VERSION: 1.10, DEBUG: true, EMPTY: , LIST: [1, a], MAP: {k: v}, Q: "007"}',
      '    params: {COUNT: 0x1F}',
    );
    const { pipeline, diagnostics } = parsePipeline(source, 'p.yml');
    expect(diagnostics).toEqual([]);
    const step = pipeline?.jobs[0]?.plan[0];
    if (step?.kind !== 'task') throw new Error('expected a task step');
    expect(step.config?.params).toEqual({
      VERSION: '1.10',
      DEBUG: 'true',
      EMPTY: '',
      LIST: '[1,"a"]',
      MAP: '{"k":"v"}',
      Q: '007',
    });
    expect(step.params).toEqual({ COUNT: '0x1F' });
  });

  it('checks the task config schema', () => {
    const source = yaml(
      'jobs:', //                                                     1
      '- name: a', //                                                 2
      '  plan:', //                                                   3
      '  - task: t', //                                               4
      '    config:', //                                               5
      '      platform: linux', //                                     6
      '      image_resource: {type: registry-image}', //              7
      '      inputs: [{name: src, optional: yes}, {path: x}]', //     8
      '      outputs: [{name: out, mode: 0755}]', //                  9
      '      caches: [path]', //                                     10
      '      container_limits: {memory: 1 PB}', //                   11
      '      run: {path: x, dir: [a]}', //                           12
    );
    expect(problems(source)).toEqual([
      'pipeline.yml:7:23: task config is missing image_resource.source',
      'pipeline.yml:8:38: inputs[0].optional must be a boolean, not a string',
      'pipeline.yml:8:44: task config is missing inputs[1].name',
      'pipeline.yml:9:29: unknown field "outputs[0].mode" in task config',
      'pipeline.yml:10:16: caches[0] must be a map, not a string',
      'pipeline.yml:11:34: container_limits.memory: invalid memory limit "1 PB": expected a number of bytes, optionally with a K, M or G suffix (e.g. "512MB", "1GB")',
      'pipeline.yml:12:27: run.dir must be a string, not a list',
    ]);
  });
});

describe('parseTaskConfig', () => {
  it('parses a standalone task file with the same schema', () => {
    const { config, diagnostics } = parseTaskConfig(
      yaml('platform: linux', 'container_limits: {memory: 512MB}', 'run: {path: go, args: [test]}'),
      'task.yml',
    );
    expect(diagnostics).toEqual([]);
    expect(config).toEqual({
      platform: 'linux',
      container_limits: { memory: 512 * 1024 * 1024 },
      run: { path: 'go', args: ['test'] },
    });
    expect(
      parseTaskConfig(yaml('platform: linux', 'run: [x]'), 'task.yml').diagnostics.map(formatDiagnostic),
    ).toEqual(['task.yml:2:6: run must be a map, not a list']);
  });
});
