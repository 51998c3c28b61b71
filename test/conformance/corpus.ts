// Where the testflight corpus is (../shared/conformance/testflight next to the checkout, or
// $OUTPOST_CONFORMANCE_DIR), its fixtures, and the -v/-y vars the suite passes to every pipeline.

import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

import { requireAll, requiredMessage } from '../support/require-all.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CORPUS_DIR =
  process.env.OUTPOST_CONFORMANCE_DIR ?? path.resolve(repoRoot, '../shared/conformance/testflight');
export const corpusPresent = existsSync(CORPUS_DIR);
const MISSING = `${CORPUS_DIR} does not exist (the shared conformance corpus is not checked out; set OUTPOST_CONFORMANCE_DIR)`;

/** The corpus's pipeline files, sorted; none when it is missing. */
export const FIXTURES = corpusPresent
  ? readdirSync(CORPUS_DIR)
      .filter((f) => f.endsWith('.yml'))
      .sort()
  : [];

// The suite's -v/-y vars (README "How the suite drives Concourse"); random UUIDs there, fixed here.
export const SUITE_VARS: Readonly<Record<string, unknown>> = {
  hash: 'hash-uuid',
  'hash-1': 'hash-1-uuid',
  'hash-2': 'hash-2-uuid',
  unique_version: 'unique-version-uuid',
  unique_config: 'unique-config-uuid',
  initial_version: 'initial-version-uuid',
};

/**
 * In a describe block: a missing corpus is a failing test under OUTPOST_REQUIRE_ALL=1, else a skipped
 * one whose name (and a printed line) says why. `what` names the suite in the message.
 */
export function corpusRequired(what: string): void {
  if (corpusPresent) return;
  if (requireAll) {
    it('finds the conformance corpus', () => expect.fail(requiredMessage(`${what}: ${MISSING}`)));
    return;
  }
  console.log(`${what}: skipped, ${MISSING}`);
  it.skip(`${what}: ${MISSING}`, () => undefined);
}
