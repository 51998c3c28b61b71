import { describe, expect, it } from 'vitest';
import type { ResourceAction } from '../dispatch/types.js';
import { artifactImage, registryImageOf } from './image-ref.js';

const get = (type: string, source: Record<string, unknown>): ResourceAction => ({
  kind: 'get',
  type,
  builtin: true,
  source,
  params: {},
  version: undefined,
});

describe('the image an artifact is', () => {
  it("a registry-image or docker-image get's artifact is its repository at the version's digest, with the source's credentials", () => {
    const source = { repository: 'registry.ci/ubuntu', username: 'ci', password: 'pw' };
    expect(registryImageOf(get('registry-image', source), { digest: 'sha256:ab', tag: 'latest' })).toEqual({
      repository: 'registry.ci/ubuntu',
      digest: 'sha256:ab',
      username: 'ci',
      password: 'pw',
    });
    expect(registryImageOf(get('docker-image', { repository: 'ubuntu' }), { digest: 'sha256:cd' })).toEqual({
      repository: 'ubuntu',
      digest: 'sha256:cd',
    });
  });

  it('anything else is not a registry reference: other types, no digest, no repository, a check', () => {
    expect(registryImageOf(get('git', { repository: 'x' }), { digest: 'sha256:ab' })).toBeUndefined();
    expect(registryImageOf(get('registry-image', { repository: 'x' }), { tag: 'latest' })).toBeUndefined();
    expect(registryImageOf(get('registry-image', {}), { digest: 'sha256:ab' })).toBeUndefined();
    expect(
      registryImageOf(
        { ...get('registry-image', { repository: 'x' }), kind: 'check' },
        { digest: 'sha256:ab' },
      ),
    ).toBeUndefined();
  });

  it("a task's image: is the registry reference when there is one, else the artifact itself", () => {
    expect(artifactImage({ digest: 'sha256:art', image: { repository: 'u', digest: 'sha256:ab' } })).toEqual({
      repository: 'u',
      digest: 'sha256:ab',
      tag: '',
    });
    expect(artifactImage({ digest: 'sha256:art' })).toEqual({
      repository: '',
      tag: '',
      digest: '',
      artifactDigest: 'sha256:art',
    });
  });
});
