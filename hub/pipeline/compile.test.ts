import { describe, expect, it } from 'vitest';

import { compileJob } from './compile.js';
import type { PlanNode } from './plan.js';
import { parsePipeline, type ParsedPipeline } from './parse.js';

const yaml = (...lines: string[]): string => lines.join('\n') + '\n';

function parsed(source: string): ParsedPipeline {
  const { pipeline, diagnostics } = parsePipeline(source, 'p.yml');
  expect(diagnostics).toEqual([]);
  return pipeline!;
}

/** The first job, compiled. */
function compileFirst(source: string): PlanNode {
  const pipeline = parsed(source);
  return compileJob(pipeline, pipeline.jobs[0]!);
}

const twoTasks = yaml(
  'jobs:',
  '- name: build',
  '  plan:',
  '  - task: minimal',
  '    config:',
  '      platform: linux',
  '      run: {path: make}',
  '  - task: full',
  '    privileged: true',
  '    tags: [gpu]',
  '    timeout: 90s',
  '    params: {MODE: release, EXTRA: "1"}',
  '    config:',
  '      platform: linux',
  '      image_resource:',
  '        type: registry-image',
  '        source: {repository: golang, tag: "1.22"}',
  '      inputs: [{name: src}, {name: cache, path: .cache, optional: true}]',
  '      outputs: [{name: bin}]',
  '      caches: [{path: go/pkg}]',
  '      params: {MODE: debug, GOFLAGS: -mod=vendor}',
  '      container_limits: {memory: 2GB}',
  '      run: {path: go, args: [build], dir: src, user: root}',
);

describe('compileJob', () => {
  it('wraps the steps in a do node and applies Concourse defaults', () => {
    expect(compileFirst(twoTasks)).toMatchObject({
      id: 'plan',
      kind: 'do',
      steps: [
        {
          id: 'plan/0',
          kind: 'task',
          name: 'minimal',
          config: {
            platform: 'linux',
            image_resource: undefined,
            inputs: [],
            outputs: [],
            caches: [],
            params: {},
            run: { path: 'make', args: [], dir: '', user: '' },
            container_limits: undefined,
          },
          tags: [],
          privileged: false,
          timeoutMs: undefined,
        },
        {
          id: 'plan/1',
          kind: 'task',
          name: 'full',
          config: {
            platform: 'linux',
            image_resource: {
              type: 'registry-image',
              source: { repository: 'golang', tag: '1.22' },
              params: {},
              version: undefined,
            },
            inputs: [
              { name: 'src', path: 'src', optional: false },
              { name: 'cache', path: '.cache', optional: true },
            ],
            outputs: [{ name: 'bin', path: 'bin' }],
            caches: [{ path: 'go/pkg' }],
            // The step's params win over the config's.
            params: { MODE: 'release', GOFLAGS: '-mod=vendor', EXTRA: '1' },
            run: { path: 'go', args: ['build'], dir: 'src', user: 'root' },
            container_limits: { cpu: undefined, memory: 2 * 1024 ** 3 },
          },
          tags: ['gpu'],
          privileged: true,
          timeoutMs: 90_000,
        },
      ],
    });
  });

  it('gives the same ids for the same config, unique within the job', () => {
    const first = compileFirst(twoTasks);
    const again = compileFirst(twoTasks);
    expect(again).toEqual(first);
    const ids = first.kind === 'do' ? [first.id, ...first.steps.map((s) => s.id)] : [];
    expect(ids).toEqual(['plan', 'plan/0', 'plan/1']);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('produces plain data that survives a JSON round trip', () => {
    const plan = compileFirst(twoTasks);
    expect(JSON.parse(JSON.stringify(plan))).toEqual(plan);
  });

  it('compiles a job with an empty plan', () => {
    expect(compileJob(parsed(yaml('jobs: [{name: noop, plan: []}]')), { name: 'noop', plan: [] })).toEqual({
      id: 'plan',
      kind: 'do',
      steps: [],
    });
  });
});
