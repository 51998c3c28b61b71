import { describe, expect, it } from 'vitest';

import { formatDiagnostic } from './diagnostics.js';
import { parsePipeline } from './parse.js';

const yaml = (...lines: string[]): string => lines.join('\n') + '\n';

function problems(source: string, vars?: Record<string, unknown>): string[] {
  const { pipeline, diagnostics } = parsePipeline(source, 'p.yml', vars ? { vars } : {});
  if (diagnostics.some((d) => d.severity === 'error')) expect(pipeline).toBeUndefined();
  return diagnostics.map((d) => (d.severity === 'warning' ? 'warning: ' : '') + formatDiagnostic(d));
}

const RESOURCES = ['resources:', '- name: repo', '  type: git', '- name: img', '  type: mock'];

describe('pipeline validation', () => {
  it('reports unknown fields, two core keys and unknown resources with positions', () => {
    const source = yaml(
      ...RESOURCES, //                                  1-5
      'jobs:', //                                        6
      '- name: a', //                                    7
      '  plan:', //                                      8
      '  - get: repo', //                                9
      '    tigger: true', //                            10
      '  - get: nope', //                               11
      '  - put: out', //                                12
      '    resource: missing', //                       13
      '  - get: repo', //                               14
      '    task: t', //                                 15
    );
    expect(problems(source)).toEqual([
      'p.yml:10:5: unknown field "tigger" in get step; did you mean `trigger`?',
      'p.yml:11:10: unknown resource "nope"',
      'p.yml:13:15: unknown resource "missing"',
      'p.yml:15:5: step has more than one action: "get" and "task"',
    ]);
  });

  it('checks passed jobs, their use of the resource, and cycles', () => {
    const source = yaml(
      ...RESOURCES,
      'jobs:', //                                        6
      '- name: a', //                                    7
      '  plan:', //                                      8
      '  - get: repo', //                                9
      '    passed: [b, ghost]', //                     10
      '- name: b', //                                   11
      '  plan:', //                                     12
      '  - get: repo', //                               13
      '    passed: [a]', //                             14
      '  - get: img', //                                15
      '    passed: [a]', //                             16
    );
    expect(problems(source)).toEqual([
      'p.yml:10:17: passed: unknown job "ghost"',
      'p.yml:14:14: passed: jobs form a cycle: "a" -> "b" -> "a"',
      'p.yml:16:14: passed: job "a" does not use resource "img"',
    ]);
  });

  it('reports duplicate names, unknown resource types, bad durations and a task with config and file', () => {
    const source = yaml(
      'resources:', //                                   1
      '- name: r', //                                    2
      '  type: nosuch', //                               3
      '  check_every: 10', //                            4
      '- name: r', //                                    5
      '  type: mock', //                                 6
      'jobs:', //                                        7
      '- name: a', //                                    8
      '  plan:', //                                      9
      '  - task: t', //                                 10
      '    file: r/t.yml', //                           11
      '    config: {platform: linux, run: {path: x}}', // 12
      '  - task: u', //                                 13
      '    timeout: forever', //                        14
    );
    expect(problems(source)).toEqual([
      'p.yml:3:9: unknown resource type "nosuch"',
      'p.yml:4:16: check_every: invalid duration "10": missing unit after "10" (valid units are "ns", "us", "ms", "s", "m", "h"; e.g. "10s")',
      'p.yml:5:9: duplicate resource name "r" (first defined at line 2)',
      'p.yml:11:5: task step "t" has both config and file; use one',
      'p.yml:13:5: task step "u" needs config or file',
      'p.yml:14:14: timeout: invalid duration "forever": expected a number at "forever"',
    ]);
  });

  it('checks groups against jobs, and warns about jobs in no group', () => {
    const source = yaml(
      'groups:', //                                      1
      '- name: build', //                                2
      '  jobs: [unit-*, nothing]', //                    3
      'jobs:', //                                        4
      '- name: unit-a', //                               5
      '  plan: []', //                                   6
      '- name: lonely', //                               7
      '  plan: []', //                                   8
    );
    expect(problems(source)).toEqual([
      'p.yml:3:18: group "build": no job matches "nothing"',
      'warning: p.yml:7:9: job "lonely" is not in any group',
    ]);
  });

  it('rejects an across var defined twice and invalid names anywhere', () => {
    const source = yaml(
      'jobs:', //                                        1
      '- name: a', //                                    2
      '  plan:', //                                      3
      '  - load_var: My_Var', //                         4
      '    file: x/y', //                                5
      '  - across:', //                                  6
      '    - {var: v, values: [1]}', //                  7
      '    - {var: v, values: [2]}', //                  8
      '    do: []', //                                   9
    );
    expect(problems(source)).toEqual([
      'p.yml:4:15: invalid load_var name "My_Var": must start with a lowercase letter or digit and contain only lowercase letters, digits, "-", "_" and "."',
      'p.yml:8:13: across: var "v" is defined twice',
    ]);
  });

  it('accepts a whole-value var in any typed position, and type-checks given vars', () => {
    const source = yaml(
      'jobs:',
      '- name: a',
      '  plan:',
      '  - task: t',
      '    privileged: ((priv))',
      '    attempts: 2',
      '    timeout: ((t))',
      '    tags: ((tags))',
      '    config: {platform: linux, run: {path: x}}',
    );
    expect(problems(source)).toEqual([]);
    expect(problems(source, { priv: 'yes', tags: ['a'] })).toEqual([
      'p.yml:5:17: privileged must be a boolean, not a string',
    ]);
    expect(problems(source, { priv: true, t: '1m', tags: { a: 1 } })).toEqual([
      'p.yml:8:11: tags must be a list, not a map',
    ]);
  });

  it('interpolates given vars whole and inline, and rejects a map inside a string', () => {
    const source = yaml(
      'jobs:',
      '- name: a',
      '  plan:',
      '  - task: t',
      '    params: {WHOLE: ((n)), INLINE: "x-((n))-((s))", LATER: ((vs:secret))}',
      '    config: {platform: linux, run: {path: "((m))-x"}}',
    );
    const { pipeline } = parsePipeline(source, 'p.yml', { vars: { n: 4, s: 'str' } });
    expect(pipeline?.jobs[0]?.plan[0]).toMatchObject({
      params: { WHOLE: '4', INLINE: 'x-4-str', LATER: '((vs:secret))' },
      config: { run: { path: '((m))-x' } },
    });
    expect(problems(source, { m: { a: 1 } })).toEqual([
      'p.yml:6:43: var "m" is a map and cannot be interpolated into a string',
    ]);
  });
});
