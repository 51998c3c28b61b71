// Every pipeline of Concourse's acceptance suite ("testflight") must validate, given the vars its README
// says the suite passes with -v/-y.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

import { formatDiagnostic } from '../../hub/pipeline/diagnostics.js';
import { parsePipeline } from '../../hub/pipeline/parse.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const dir = path.resolve(repoRoot, '../shared/conformance/testflight');
const present = existsSync(dir);
if (!present)
  console.log(`validate: skipped, ${dir} does not exist (the shared conformance corpus is not checked out)`);
const fixtures = present
  ? readdirSync(dir)
      .filter((f) => f.endsWith('.yml'))
      .sort()
  : [];

// The suite's -v/-y vars (README "How the suite drives Concourse"); random UUIDs there, fixed here.
const VARS: Record<string, unknown> = {
  hash: 'hash-uuid',
  'hash-1': 'hash-1-uuid',
  'hash-2': 'hash-2-uuid',
  unique_version: 'unique-version-uuid',
  unique_config: 'unique-config-uuid',
  initial_version: 'initial-version-uuid',
  pinned_version: 'guid3',
  force_version: 'guid1',
  check_failure: '',
  pipeline_name: 'child-pipeline',
  team_name: 'testflight',
  privileged: true,
  task_content: 'task.yml contents',
  task_unwrap_content: 'task_unwrap.yml contents',
};

let passing = 0;
afterAll(() => {
  if (present) console.log(`validate: ${passing} of ${fixtures.length} testflight pipelines pass`);
});

describe('testflight pipelines validate', () => {
  it.skipIf(!present)('finds the fixtures', () => {
    expect(fixtures.length).toBeGreaterThan(0);
  });

  for (const fixture of fixtures) {
    it(fixture, () => {
      const { pipeline, diagnostics } = parsePipeline(
        readFileSync(path.join(dir, fixture), 'utf8'),
        fixture,
        {
          vars: VARS,
        },
      );
      expect(diagnostics.map(formatDiagnostic)).toEqual([]);
      expect(pipeline).toBeDefined();
      passing++;
    });
  }
});
