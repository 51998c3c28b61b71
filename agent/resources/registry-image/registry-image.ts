// The built-in `registry-image` type: Concourse's concourse/registry-image-resource spoken straight
// to the registry's HTTP API v2 from the agent, with no container and no Docker. check lists tags and
// digests, get fetches an image (rootfs, image tarball or OCI layout), put pushes one.

import { type BuiltinContext, ResourceFailure } from '../builtin.js';
import { isPlainObject } from '../protocol.js';
import { check, type ImageVersion } from './check.js';
import { RegistryClient } from './client.js';
import { get } from './get.js';
import { put } from './put.js';
import { parseGetParams, parsePutParams, parseSource } from './source.js';

export async function registryImage(ctx: BuiltinContext): Promise<unknown> {
  const request = JSON.parse(ctx.requestJson) as { source?: unknown; params?: unknown; version?: unknown };
  const source = parseSource(request.source);
  const given = isPlainObject(request.version) ? request.version : undefined;
  const version: ImageVersion | undefined = given && {
    tag: typeof given.tag === 'string' ? given.tag : '',
    digest: typeof given.digest === 'string' ? given.digest : '',
  };
  const client = new RegistryClient(source.repository, {
    username: source.username,
    password: source.password,
    insecure: source.insecure,
    caCerts: source.caCerts,
    scope: ctx.kind === 'put' ? 'pull,push' : 'pull',
    signal: ctx.signal,
    onRetry: (line) => ctx.log(line),
  });
  const log = (line: string) => ctx.log(line);
  try {
    switch (ctx.kind) {
      case 'check':
        return await check(client, source, version);
      case 'get':
        if (!version) throw new ResourceFailure('get needs a version ({tag, digest})');
        return await get(client, ctx.dir, source, parseGetParams(request.params, source), version, log);
      case 'put':
        return await put(client, ctx.dir, source, parsePutParams(request.params), log);
    }
  } finally {
    await client.close();
  }
}
