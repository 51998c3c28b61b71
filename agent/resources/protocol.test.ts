import { describe, expect, it } from 'vitest';
import { ResourceActionKind } from '../../proto/gen/outpost/v1/agent.js';
import { execResourceFromWire, MAX_RESPONSE_BYTES, parseGoDuration, validateResponse } from './protocol.js';

const action = (kind: ResourceActionKind, over: Partial<Record<string, string>> = {}) => ({
  kind,
  type: 'mock',
  builtin: true,
  sourceJson: '{"a":"b"}',
  paramsJson: '{"p":1}',
  versionJson: '',
  ...over,
});

describe('the request a resource reads', () => {
  it('is {source, version} for check, version null when there is none', () => {
    const check = execResourceFromWire(action(ResourceActionKind.RESOURCE_ACTION_KIND_CHECK));
    expect(check).toMatchObject({ kind: 'check', type: 'mock', builtin: true });
    expect(JSON.parse((check as { request: string }).request)).toEqual({ source: { a: 'b' }, version: null });
    const from = execResourceFromWire(
      action(ResourceActionKind.RESOURCE_ACTION_KIND_CHECK, { versionJson: '{"version":"v1"}' }),
    );
    expect(JSON.parse((from as { request: string }).request)).toEqual({
      source: { a: 'b' },
      version: { version: 'v1' },
    });
  });

  it('is {source, params, version} for get and {source, params} for put', () => {
    const get = execResourceFromWire(
      action(ResourceActionKind.RESOURCE_ACTION_KIND_GET, { versionJson: '{"version":"v1"}' }),
    );
    expect(JSON.parse((get as { request: string }).request)).toEqual({
      source: { a: 'b' },
      params: { p: 1 },
      version: { version: 'v1' },
    });
    const put = execResourceFromWire(action(ResourceActionKind.RESOURCE_ACTION_KIND_PUT, { sourceJson: '' }));
    expect(JSON.parse((put as { request: string }).request)).toEqual({ source: {}, params: { p: 1 } });
  });

  it('names a field that is not a JSON object, and an unknown action', () => {
    expect(
      execResourceFromWire(action(ResourceActionKind.RESOURCE_ACTION_KIND_GET, { paramsJson: '[1]' })),
    ).toBe('resource step: params must be an object, not a list');
    expect(
      execResourceFromWire(action(ResourceActionKind.RESOURCE_ACTION_KIND_GET, { sourceJson: '{' })),
    ).toMatch(/^resource step: source is not JSON/);
    expect(execResourceFromWire(action(ResourceActionKind.RESOURCE_ACTION_KIND_UNSPECIFIED))).toBe(
      'resource step: unknown action 0',
    );
  });
});

describe('validating a response', () => {
  it('accepts a check list of versions with string values', () => {
    expect(validateResponse('check', '[{"ref":"abc"},{"ref":"def","n":"2"}]\n')).toEqual({
      json: '[{"ref":"abc"},{"ref":"def","n":"2"}]',
    });
    expect(validateResponse('check', '[]')).toEqual({ json: '[]' });
  });

  it('names what is wrong with a check response', () => {
    expect(validateResponse('check', '{"ref":"abc"}')).toEqual({
      error: 'check response must be a list of versions, not an object',
    });
    expect(validateResponse('check', '[{"ref":"abc"},{"n":2}]')).toEqual({
      error: 'check response: version 2 key "n" is a number, not a string',
    });
    expect(validateResponse('check', '')).toEqual({
      error: 'check response is empty: the resource printed nothing on stdout',
    });
    const notJson = validateResponse('check', 'oops {');
    expect('error' in notJson && notJson.error).toMatch(/^check response is not JSON \(.*\): "oops \{"$/);
  });

  it('accepts get/put responses, with metadata defaulted to []', () => {
    expect(validateResponse('get', '{"version":{"ref":"a"},"metadata":[{"name":"n","value":"v"}]}')).toEqual({
      json: '{"version":{"ref":"a"},"metadata":[{"name":"n","value":"v"}]}',
    });
    expect(validateResponse('put', '{"version":{"ref":"a"},"metadata":null}')).toEqual({
      json: '{"version":{"ref":"a"},"metadata":[]}',
    });
  });

  it('names what is wrong with a get/put response', () => {
    expect(validateResponse('get', '[]')).toEqual({
      error: 'get response must be an object with "version", not a list',
    });
    expect(validateResponse('put', '{"metadata":[]}')).toEqual({ error: 'put response has no "version"' });
    expect(validateResponse('get', '{"version":{"ref":1}}')).toEqual({
      error: 'get response: "version" key "ref" is a number, not a string',
    });
    expect(validateResponse('get', '{"version":{},"metadata":[{"name":"n"}]}')).toEqual({
      error: 'get response: metadata entry 1 must be {name, value} with string values',
    });
  });

  it('refuses a response over 1 MiB', () => {
    const big = JSON.stringify([{ v: 'x'.repeat(MAX_RESPONSE_BYTES) }]);
    expect(validateResponse('check', big)).toEqual({
      error: `check response is ${big.length} bytes, over the limit of ${MAX_RESPONSE_BYTES} (1 MiB)`,
    });
  });
});

describe('Go durations', () => {
  it('parses what time.ParseDuration does', () => {
    expect(parseGoDuration('90s')).toBe(90_000);
    expect(parseGoDuration('1h30m')).toBe(5_400_000);
    expect(parseGoDuration('1.5h')).toBe(5_400_000);
    expect(parseGoDuration('250ms')).toBe(250);
    expect(parseGoDuration('0')).toBe(0);
    expect(parseGoDuration('10')).toBeUndefined();
    expect(parseGoDuration('1d')).toBeUndefined();
  });
});
