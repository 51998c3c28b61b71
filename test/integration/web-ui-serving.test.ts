// The hub serves the built web UI at `/` on its API port: files with the right types and caching, the
// app's page for its own paths, JSON 404s for the API's unknown paths, and nothing outside its folder.

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/harness.js';

let hub: TestHub;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'outpost-web-'));
  await mkdir(path.join(dir, 'web', 'assets'), { recursive: true });
  await writeFile(path.join(dir, 'web', 'index.html'), '<!doctype html><div id="root"></div>');
  await writeFile(path.join(dir, 'web', 'assets', 'index-AbC123.js'), 'console.log(1)');
  await writeFile(path.join(dir, 'web', 'favicon.svg'), '<svg/>');
  await writeFile(path.join(dir, 'secret.txt'), 'not for the web');
  hub = await startTestHub({ webDir: path.join(dir, 'web') });
});

afterAll(async () => {
  await hub.close();
  await rm(dir, { recursive: true, force: true });
});

const get = (p: string) => fetch(hub.url + p);

describe('web UI serving', () => {
  it('serves index.html at / and for the app paths, never cached', async () => {
    for (const p of ['/', '/pipelines/main/hello', '/builds/12']) {
      const res = await get(p);
      expect(res.status, p).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(res.headers.get('cache-control')).toBe('no-cache');
      expect(await res.text()).toContain('<div id="root">');
    }
  });

  it('serves hashed assets with their type, cached for good', async () => {
    const res = await get('/assets/index-AbC123.js');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(await res.text()).toBe('console.log(1)');
    const svg = await get('/favicon.svg');
    expect(svg.headers.get('content-type')).toBe('image/svg+xml');
    expect(svg.headers.get('cache-control')).toBe('no-cache');
  });

  it('answers 404 for a missing asset instead of the page', async () => {
    const res = await get('/assets/index-old.js');
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('not_found');
  });

  it('leaves the API its JSON answers', async () => {
    const unknown = await get('/api/v1/nope');
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({
      error: { code: 'not_found', message: 'no route GET /api/v1/nope' },
    });
    const info = await get('/api/v1/info');
    expect(info.status).toBe(200);
    expect((await get('/healthz')).headers.get('content-type')).toContain('application/json');
  });

  it('serves nothing outside its folder, however the path is spelled', async () => {
    for (const p of [
      '/../secret.txt',
      '/%2e%2e/secret.txt',
      '/assets/..%2f..%2fsecret.txt',
      '/%2e%2e%2fsecret.txt',
    ]) {
      const res = await fetch(hub.url + p, { redirect: 'manual' });
      const body = await res.text();
      expect(body, p).not.toContain('not for the web');
    }
    expect((await get('/%E0%A4%A')).status).toBe(400);
  });
});
