import { describe, expect, it } from 'vitest';
import { applyProxyEnv } from './proxy-env.js';

describe('applyProxyEnv', () => {
  it('copies upper-case variables to the lower-case names grpc-js reads, never over a lower-case one', () => {
    const env: NodeJS.ProcessEnv = {
      HTTPS_PROXY: 'http://proxy.internal:3128',
      NO_PROXY: '.svc',
      HTTP_PROXY: 'http://upper:1',
      http_proxy: 'http://lower:2',
    };
    expect(applyProxyEnv(env)).toBe('http://proxy.internal:3128');
    expect(env).toMatchObject({
      https_proxy: 'http://proxy.internal:3128',
      no_proxy: '.svc',
      http_proxy: 'http://lower:2',
    });
  });

  it('reports the proxy in grpc-js order, credentials hidden', () => {
    expect(applyProxyEnv({ grpc_proxy: 'http://g:1', https_proxy: 'http://s:2' })).toBe('http://g:1');
    expect(applyProxyEnv({ http_proxy: 'http://user:secret@p:3128/' })).toBe('http://***@p:3128');
    expect(applyProxyEnv({ no_proxy: '*' })).toBeUndefined();
  });

  it('refuses a value grpc-js would ignore and dial direct, naming the variable', () => {
    expect(() => applyProxyEnv({ HTTPS_PROXY: 'https://proxy:3128' })).toThrow(
      'https_proxy must be an http:// URL (the hub connection speaks HTTP CONNECT to the proxy): "https://proxy:3128"',
    );
    expect(() => applyProxyEnv({ http_proxy: 'proxy.internal:3128' })).toThrow(
      'http_proxy must be an http:// URL',
    );
    expect(() => applyProxyEnv({ http_proxy: 'not a url' })).toThrow('http_proxy is not a URL');
    expect(() => applyProxyEnv({ https_proxy: 'http://u:pw@[bad' })).toThrow('"http://***@[bad"');
  });
});
