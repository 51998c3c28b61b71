import { describe, expect, it } from 'vitest';

import { compileJob } from './compile.js';
import { parsePipeline } from './parse.js';
import type { PlanNode } from './plan.js';

const yaml = (...lines: string[]): string => lines.join('\n') + '\n';

function compile(...lines: string[]): PlanNode {
  const { pipeline, diagnostics } = parsePipeline(yaml(...lines), 'p.yml');
  expect(diagnostics).toEqual([]);
  return compileJob(pipeline!, pipeline!.jobs[0]!);
}

/** Every node as "id kind", depth first: the tree's shape and ids at a glance. */
function shape(node: PlanNode): string[] {
  const children: PlanNode[] = [];
  if ('steps' in node) children.push(...node.steps);
  if ('step' in node) children.push(node.step);
  if ('hook' in node) children.push(node.hook);
  if (node.kind === 'retry') children.push(...node.attempts);
  return [`${node.id} ${node.kind}`, ...children.flatMap(shape)];
}

const HEAD = ['resources:', '- {name: repo, type: custom, source: {uri: x}}', 'resource_types:'];
const TYPES = ['- {name: custom, type: mock, defaults: {uri: d, branch: main}}', 'jobs:', '- name: j'];

describe('compileJob step tree', () => {
  it('nests modifiers in Concourse precedence with path ids', () => {
    const plan = compile(
      ...HEAD,
      ...TYPES,
      '  plan:',
      '  - get: repo',
      '    ensure: {get: repo}',
      '    on_failure: {get: repo}',
      '    across: [{var: v, values: [1, 2]}]',
      '    attempts: 2',
      '    timeout: ((t))',
    );
    expect(shape(plan)).toEqual([
      'plan do',
      'plan/0 ensure',
      'plan/0/step on_failure',
      'plan/0/step/step across',
      'plan/0/step/step/across retry',
      'plan/0/step/step/across/attempt/1 timeout',
      'plan/0/step/step/across/attempt/1/timeout get',
      'plan/0/step/step/across/attempt/2 timeout',
      'plan/0/step/step/across/attempt/2/timeout get',
      'plan/0/on_failure get',
      'plan/0/ensure get',
    ]);
  });

  it('compiles every step kind with defaults, and job hooks around the plan', () => {
    const plan = compile(
      ...HEAD,
      ...TYPES,
      '  ensure: {load_var: v, file: repo/v.json}',
      '  plan:',
      '  - in_parallel:',
      '    - put: repo',
      '      timeout: 1m',
      '    - do: [{try: {set_pipeline: self, file: repo/p.yml}}]',
    );
    expect(plan).toEqual({
      id: 'job',
      kind: 'ensure',
      hook: {
        id: 'ensure',
        kind: 'load_var',
        name: 'v',
        file: { artifact: 'repo', path: 'v.json' },
        format: undefined,
        reveal: false,
      },
      step: {
        id: 'plan',
        kind: 'do',
        steps: [
          {
            id: 'plan/0',
            kind: 'in_parallel',
            limit: 0,
            failFast: false,
            steps: [
              {
                id: 'plan/0/in_parallel/0',
                kind: 'put',
                name: 'repo',
                resource: 'repo',
                type: 'custom',
                // The type's defaults under the resource's source.
                source: { uri: 'x', branch: 'main' },
                params: {},
                inputs: 'detect',
                get: { id: 'plan/0/in_parallel/0/get', params: {} },
                tags: [],
                timeoutMs: 60_000,
              },
              {
                id: 'plan/0/in_parallel/1',
                kind: 'do',
                steps: [
                  {
                    id: 'plan/0/in_parallel/1/do/0',
                    kind: 'try',
                    step: {
                      id: 'plan/0/in_parallel/1/do/0/try',
                      kind: 'set_pipeline',
                      pipeline: 'self',
                      file: { artifact: 'repo', path: 'p.yml' },
                      vars: {},
                      varFiles: [],
                      team: undefined,
                      instanceVars: undefined,
                    },
                  },
                ],
              },
            ],
          },
        ],
      },
    });
  });
});
