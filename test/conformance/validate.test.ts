// Every pipeline of Concourse's acceptance suite ("testflight") must validate, given the vars its README
// says the suite passes with -v/-y.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { formatDiagnostic } from '../../hub/pipeline/diagnostics.js';
import { parsePipeline } from '../../hub/pipeline/parse.js';
import { CORPUS_DIR, corpusPresent, corpusRequired, FIXTURES, SUITE_VARS } from './corpus.js';

// The suite's vars plus one value for each var a fixture's specs pass themselves.
const VARS: Record<string, unknown> = {
  ...SUITE_VARS,
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
  if (corpusPresent) console.log(`validate: ${passing} of ${FIXTURES.length} testflight pipelines pass`);
});

describe('testflight pipelines validate', () => {
  corpusRequired('validate');
  it.skipIf(!corpusPresent)('finds the fixtures', () => {
    expect(FIXTURES.length).toBeGreaterThan(0);
  });

  for (const fixture of FIXTURES) {
    it(fixture, () => {
      const { pipeline, diagnostics } = parsePipeline(
        readFileSync(path.join(CORPUS_DIR, fixture), 'utf8'),
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
