import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { BuiltinContext } from './builtin.js';
import { mock } from './mock.js';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'outpost-mock-test-'));
});

afterEach(async () => {
  vi.useRealTimers();
  await rm(dir, { recursive: true, force: true });
});

interface Options {
  env?: Record<string, string>;
  privileged?: boolean;
  signal?: AbortSignal;
}

function context(
  kind: BuiltinContext['kind'],
  request: unknown,
  lines: string[],
  opts: Options,
): BuiltinContext {
  return {
    kind,
    requestJson: JSON.stringify(request),
    dir,
    env: opts.env ?? {},
    privileged: opts.privileged ?? false,
    log: (line) => lines.push(line),
    signal: opts.signal ?? new AbortController().signal,
    now: () => new Date(),
  };
}

async function run(kind: BuiltinContext['kind'], request: unknown, opts: Options = {}) {
  const lines: string[] = [];
  const response = await mock(context(kind, request, lines, opts));
  return { response, lines };
}

function failure(kind: BuiltinContext['kind'], request: unknown, opts: Options = {}): Promise<string> {
  return mock(context(kind, request, [], opts)).then(
    () => 'succeeded',
    (err: unknown) => (err as Error).message,
  );
}

const file = (name: string) => readFile(path.join(dir, name), 'utf8');

describe('mock check', () => {
  it('emits "mock" when there is no version yet', async () => {
    expect((await run('check', { source: {}, version: null })).response).toEqual([{ version: 'mock' }]);
  });

  it('emits initial_version, else MIRRORED_VERSION from the step env, else mock', async () => {
    const env = { MIRRORED_VERSION: 'from-type' };
    expect(
      (await run('check', { source: { initial_version: 'v0' }, version: null }, { env })).response,
    ).toEqual([{ version: 'v0' }]);
    expect((await run('check', { source: {}, version: null }, { env })).response).toEqual([
      { version: 'from-type' },
    ]);
  });

  it('emits nothing with no_initial_version', async () => {
    expect((await run('check', { source: { no_initial_version: true }, version: null })).response).toEqual(
      [],
    );
  });

  it('echoes the version it is given (how check-resource --from creates versions)', async () => {
    const { response } = await run('check', {
      source: { initial_version: 'v0' },
      version: { version: 'abc-new' },
    });
    expect(response).toEqual([{ version: 'abc-new' }]);
  });

  it('emits only force_version when set, whatever it is given', async () => {
    const { response } = await run('check', {
      source: { force_version: 'forced' },
      version: { version: 'given' },
    });
    expect(response).toEqual([{ version: 'forced' }]);
  });

  it('marks versions privileged when run privileged', async () => {
    const { response } = await run('check', { source: {}, version: null }, { privileged: true });
    expect(response).toEqual([{ version: 'mock', privileged: 'true' }]);
  });

  it('fails with check_failure', async () => {
    expect(await failure('check', { source: { check_failure: 'super broken' }, version: null })).toBe(
      'intentionally failing to check: super broken',
    );
  });

  it('waits check_delay before answering', async () => {
    vi.useFakeTimers();
    let done = false;
    const answer = mock(context('check', { source: { check_delay: '1m' }, version: null }, [], {})).then(
      (r) => {
        done = true;
        return r;
      },
    );
    await vi.advanceTimersByTimeAsync(59_000);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(await answer).toEqual([{ version: 'mock' }]);
  });

  it('stops waiting when aborted, and rejects a malformed check_delay', async () => {
    const controller = new AbortController();
    const pending = failure(
      'check',
      { source: { check_delay: '1h' }, version: null },
      { signal: controller.signal },
    );
    controller.abort();
    expect(await pending).toBe('aborted');
    expect(await failure('check', { source: { check_delay: 'soon' }, version: null })).toMatch(
      /^malformed check_delay duration \(soon\)/,
    );
  });

  it('prints `log` on every action', async () => {
    const source = { log: 'defaulted' };
    expect((await run('check', { source, version: null })).lines).toEqual(['defaulted']);
    expect((await run('get', { source, params: {}, version: { version: 'v1' } })).lines[0]).toBe('defaulted');
    expect((await run('put', { source, params: { version: 'p' } })).lines[0]).toBe('defaulted');
  });
});

describe('mock strictness', () => {
  it('rejects an unknown source key on every action', async () => {
    const source = { initial_version: 'x', bogus: 1 };
    for (const [kind, request] of [
      ['check', { source, version: null }],
      ['get', { source, params: {}, version: { version: 'v' } }],
      ['put', { source, params: { version: 'v' } }],
    ] as const) {
      expect(await failure(kind, request)).toBe('invalid payload: unknown field "bogus" in source');
    }
  });

  it('rejects unknown params of get and put', async () => {
    expect(await failure('get', { source: {}, params: { version: 'x' }, version: { version: 'v' } })).toBe(
      'invalid payload: unknown field "version" in params',
    );
    expect(await failure('put', { source: {}, params: { version: 'v', create_files_via_params: {} } })).toBe(
      'invalid payload: unknown field "create_files_via_params" in params',
    );
  });

  it('rejects values of the wrong type and unknown version keys', async () => {
    expect(await failure('check', { source: { initial_version: 3 }, version: null })).toBe(
      'invalid payload: source.initial_version must be a string, not a number',
    );
    expect(await failure('check', { source: { metadata: [{ name: 'a', val: 'b' }] }, version: null })).toBe(
      'invalid payload: source.metadata entry 1: unknown field "val"',
    );
    expect(await failure('check', { source: {}, version: { version: 'v', ref: 'x' } })).toBe(
      'invalid payload: unknown field "ref" in version',
    );
  });
});

describe('mock get', () => {
  it('writes version and privileged, logs the fetch and returns the version with the metadata', async () => {
    const metadata = [{ name: 'a', value: 'b' }];
    const { response, lines } = await run('get', {
      source: { metadata },
      params: {},
      version: { version: 'v1' },
    });
    expect(await file('version')).toBe('v1\n');
    expect(await file('privileged')).toBe('false\n');
    expect(lines).toEqual(['fetching version: v1']);
    expect(response).toEqual({ version: { version: 'v1' }, metadata });
    expect(existsSync(path.join(dir, 'rootfs'))).toBe(false);
  });

  it('says when it fetches privileged', async () => {
    const { lines } = await run(
      'get',
      { source: {}, params: {}, version: { version: 'v1' } },
      { privileged: true },
    );
    expect(await file('privileged')).toBe('true\n');
    expect(lines).toEqual(['fetching in a privileged container', 'fetching version: v1']);
  });

  it('creates files: strings as they are, other values as JSON, START_VAR/END_VAR as (( ))', async () => {
    const source = {
      create_files: {
        'script.sh': 'echo START_VARgreetingsEND_VAR\n',
        'data.yml': ['dynamic1', 'dynamic2', 4],
        'nested/dir/obj.json': { a: { b: 1 } },
      },
    };
    await run('get', { source, params: {}, version: { version: 'v' } });
    expect(await file('script.sh')).toBe('echo ((greetings))\n');
    expect(await file('data.yml')).toBe('["dynamic1","dynamic2",4]');
    expect(await file('nested/dir/obj.json')).toBe('{"a":{"b":1}}');
  });

  it('merges create_files_via_params over the source files', async () => {
    const source = { create_files: { a: 'from source', b: 'kept' } };
    const params = { create_files_via_params: { a: 'from params', c: 'added' } };
    await run('get', { source, params, version: { version: 'v' } });
    expect([await file('a'), await file('b'), await file('c')]).toEqual(['from params', 'kept', 'added']);
  });

  it('refuses a file outside the destination', async () => {
    const source = { create_files: { '../escape': 'x' } };
    expect(await failure('get', { source, params: {}, version: { version: 'v' } })).toMatch(
      /"..\/escape" must name a file inside/,
    );
  });

  it('mirrors itself as an image with mirror_self or mirror_self_via_params', async () => {
    for (const [source, params] of [
      [{ mirror_self: true }, {}],
      [{}, { mirror_self_via_params: true }],
    ]) {
      await rm(path.join(dir, 'rootfs'), { recursive: true, force: true });
      await run('get', { source, params, version: { version: 'img-1' } });
      expect((await stat(path.join(dir, 'rootfs'))).isDirectory()).toBe(true);
      expect(JSON.parse(await file('metadata.json'))).toEqual({
        env: ['MIRRORED_VERSION=img-1'],
        user: 'root',
      });
    }
  });
});

describe('mock put', () => {
  it('pushes params.version', async () => {
    const { response, lines } = await run('put', { source: {}, params: { version: 'some-pushed-version' } });
    expect(lines).toEqual(['pushing version: some-pushed-version']);
    expect(response).toEqual({ version: { version: 'some-pushed-version' }, metadata: [] });
  });

  it('pushes the version read from params.file, relative to the working dir', async () => {
    await writeFile(path.join(dir, 'out.txt'), 'from-file\n');
    const { response } = await run('put', { source: {}, params: { file: 'out.txt' } });
    expect(response).toEqual({ version: { version: 'from-file' }, metadata: [] });
    expect(await failure('put', { source: {}, params: { file: 'missing' } })).toBe(
      'failed to read version file "missing": ENOENT',
    );
  });

  it("pushes the empty version without one, as Concourse's mock (a put with no params succeeds)", async () => {
    const { response, lines } = await run('put', { source: {}, params: {} });
    expect(response).toEqual({ version: { version: '' }, metadata: [] });
    expect(lines).toEqual(['pushing version: ']);
  });

  it('prints the step env with print_env, and pushes privileged when privileged', async () => {
    const { response, lines } = await run(
      'put',
      { source: {}, params: { version: 'v', print_env: true } },
      { env: { B: '2', A: '1' }, privileged: true },
    );
    expect(lines).toEqual(['A=1', 'B=2', 'pushing in a privileged container', 'pushing version: v']);
    expect(response).toEqual({ version: { version: 'v', privileged: 'true' }, metadata: [] });
  });
});
