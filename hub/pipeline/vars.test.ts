import { describe, expect, it } from 'vitest';

import { interpolate } from './interpolate.js';
import { parseTaskConfig } from './task-config.js';
import { collectVars } from './var-flags.js';
import { findVars, parseVarRef, resolveVars, undefinedVarsMessage, type VarRef } from './vars.js';

describe('var references', () => {
  it('parses sources, fields, local vars and quoted segments', () => {
    expect(parseVarRef('a')).toEqual({ path: 'a', fields: [] });
    expect(parseVarRef('vault:repo.key.sub')).toEqual({
      source: 'vault',
      path: 'repo',
      fields: ['key', 'sub'],
    });
    expect(parseVarRef('.:local')).toEqual({ source: '.', path: 'local', fields: [] });
    expect(parseVarRef('"a.b".c')).toEqual({ path: 'a.b', fields: ['c'] });
    expect(parseVarRef('not a var')).toBeUndefined();
    expect(findVars('x ((a)) (( b )) ((not valid))').map((m) => m.name)).toEqual(['a', 'b']);
  });

  it('resolves whole values with their type and inline ones as text, listing missing vars', () => {
    const values: Record<string, unknown> = { n: 4, m: { k: 'v' }, b: true };
    const lookup = (ref: VarRef): unknown => values[ref.path];
    expect(
      resolveVars(
        { whole: '((m))', field: '((m.k))', inline: 'n=((n)) b=((b))', list: ['((n))', '((x))', '((y))'] },
        lookup,
      ),
    ).toEqual({
      value: { whole: { k: 'v' }, field: 'v', inline: 'n=4 b=true', list: [4, '((x))', '((y))'] },
      missing: ['x', 'y'],
      errors: [],
    });
    expect(resolveVars('a ((m))', lookup).errors).toEqual([
      'var "m" is a map and cannot be interpolated into a string',
    ]);
    expect(resolveVars('((m.nope))', lookup).errors).toEqual(['var "m.nope": no field "nope"']);
  });
});

describe('interpolate (text)', () => {
  it('rewrites only the scalars whose vars are given, keeping lines and comments', () => {
    const source = 'a: ((x)) # note\nb: "pre-((y))"\nc: ((later))\nd: |\n  echo ((y))\n';
    expect(interpolate(source, { x: { k: [1] }, y: 'why' })).toEqual({
      source: 'a: {"k":[1]} # note\nb: "pre-why"\nc: ((later))\nd: |\n  echo why\n',
      diagnostics: [],
    });
  });
});

describe('collectVars', () => {
  it('applies files, then -y, then -v, with dotted keys as fields', () => {
    expect(
      collectVars({
        files: [{ name: 'v.yml', text: 'a: 1\nrepo: {uri: x}\n' }],
        yaml: ['a=[1, 2]', 'b=true'],
        strings: ['repo.branch=main', 'c=3'],
      }),
    ).toEqual({ ok: true, vars: { a: [1, 2], b: true, c: '3', repo: { uri: 'x', branch: 'main' } } });
    expect(collectVars({ strings: ['novalue'] })).toEqual({
      ok: false,
      error: '-v "novalue": expected NAME=VALUE',
    });
  });
});

describe('parseTaskConfig with vars', () => {
  it('interpolates the step vars on the YAML tree, keeping types', () => {
    const source = 'platform: linux\nrun: {path: echo, args: ((args))}\nparams: {A: ((.:x))}\n';
    expect(parseTaskConfig(source, 't.yml', { vars: { args: ['a', 'b'] } }).config).toEqual({
      platform: 'linux',
      run: { path: 'echo', args: ['a', 'b'] },
      params: { A: '((.:x))' },
    });
  });
});

describe('undefinedVarsMessage', () => {
  it('names the missing vars on the first line, then how to give each kind', () => {
    expect(undefinedVarsMessage(['repo.uri', 'branch', '.:version', 'vault:token']).split('\n')).toEqual([
      'undefined vars: repo.uri, branch, .:version, vault:token',
      '  give repo, branch when setting the pipeline: -v repo=VALUE -v branch=VALUE (or -y repo=YAML, or -l FILE with a "repo:" key)',
      '  set .:version with a load_var step (or across) before the step that uses it',
      '  vault:token: not found in the named var source',
    ]);
  });
});
