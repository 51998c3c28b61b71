import { describe, expect, it } from 'vitest';
import { resolveInputs, type InputSpec } from './inputs.js';

/** Versions 1..n (id = order), newest first as the store lists them. */
function versions(n: number): InputSpec['versions'] {
  return Array.from({ length: n }, (_, i) => ({ id: n - i, order: n - i }));
}

function input(name: string, extra: Partial<InputSpec> = {}): InputSpec {
  return {
    name,
    resource: name,
    versions: versions(3),
    passed: new Map(),
    every: false,
    used: new Set(),
    ...extra,
  };
}

/** passed map for one job: version id -> builds that had it. */
function through(job: string, rows: [version: number, builds: number[]][]): InputSpec['passed'] {
  return new Map([[job, new Map(rows.map(([v, b]) => [v, new Set(b)]))]]);
}

describe('resolveInputs', () => {
  it('takes the newest version of each input', () => {
    const r = resolveInputs([input('a'), input('b', { versions: versions(5) })]);
    expect(r).toEqual({
      ok: true,
      chosen: new Map([
        ['a', 3],
        ['b', 5],
      ]),
    });
  });

  it('takes only versions that went through the passed job', () => {
    const r = resolveInputs([input('a', { passed: through('up', [[2, [10]]]) })]);
    expect(r).toEqual({ ok: true, chosen: new Map([['a', 2]]) });
  });

  it('chooses versions of inputs sharing a passed job from the same build of it', () => {
    // Build 20 of `up` had a@3 but b@1; build 10 had a@2 and b@2: the newest joint pair is from build 10.
    const a = input('a', {
      passed: through('up', [
        [3, [20]],
        [2, [10]],
      ]),
    });
    const b = input('b', {
      passed: through('up', [
        [2, [10]],
        [1, [20]],
      ]),
    });
    const r = resolveInputs([a, b]);
    expect(r).toEqual({
      ok: true,
      chosen: new Map([
        ['a', 3],
        ['b', 1],
      ]),
    });
    // ...unless the newest a came with no b at all: then both come from build 10.
    const b2 = input('b', { passed: through('up', [[2, [10]]]) });
    expect(resolveInputs([a, b2])).toEqual({
      ok: true,
      chosen: new Map([
        ['a', 2],
        ['b', 2],
      ]),
    });
  });

  it('says which input has no version and why', () => {
    expect(resolveInputs([input('a', { versions: [] })])).toEqual({
      ok: false,
      reason: 'no versions of resource "a" are available yet',
    });
    expect(resolveInputs([input('a', { passed: through('up', []) })])).toEqual({
      ok: false,
      reason: 'no version of a satisfies passed: [up]',
    });
    const a = input('a', { passed: through('up', [[3, [1]]]) });
    const b = input('b', { passed: through('up', [[3, [2]]]) });
    expect(resolveInputs([a, b])).toEqual({
      ok: false,
      reason: 'no set of versions of a, b went through the same builds of their passed jobs',
    });
    expect(resolveInputs([input('a', { pinProblem: 'pinned version x is gone' })])).toEqual({
      ok: false,
      reason: 'pinned version x is gone',
    });
  });

  it('with version: every, takes the next version after the newest one used, else the newest', () => {
    expect(resolveInputs([input('a', { every: true, used: new Set([1]) })])).toEqual({
      ok: true,
      chosen: new Map([['a', 2]]),
    });
    expect(resolveInputs([input('a', { every: true })])).toEqual({ ok: true, chosen: new Map([['a', 1]]) });
    expect(resolveInputs([input('a', { every: true, used: new Set([1, 2, 3]) })])).toEqual({
      ok: true,
      chosen: new Map([['a', 3]]),
    });
  });
});
