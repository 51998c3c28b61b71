// Which image a task's `image: ARTIFACT` names. An artifact fetched by a registry-image (or
// docker-image) get is a registry reference: the executor runs `repository@digest` of the version the
// get reported, pulled with the resource's credentials. Any other artifact (an image a task built, a
// get of another type) is sent as the artifact itself: a kubernetes pool pushes it to its registry.

import type { ResourceAction, StepSpec } from '../dispatch/types.js';
import type { Version } from '../store/store.js';

/** Types whose image is a registry reference the executor pulls itself. */
export const REGISTRY_TYPES: ReadonlySet<string> = new Set(['registry-image', 'docker-image']);

/** A fetched image as a registry reference: the repository and digest of the version the get reported. */
export interface RegistryImage {
  repository: string;
  digest: string;
  username?: string;
  password?: string;
}

/**
 * The registry reference a get of `resource` at `version` fetched, or undefined when the get's type is
 * not a registry type or the version or source does not say which image (no `digest`, no `repository`).
 */
export function registryImageOf(
  resource: ResourceAction | undefined,
  version: Version | undefined,
): RegistryImage | undefined {
  if (!resource || resource.kind === 'check' || !REGISTRY_TYPES.has(resource.type)) return undefined;
  const { repository, username, password } = resource.source;
  const digest = version?.digest;
  if (typeof repository !== 'string' || repository === '' || !digest) return undefined;
  return {
    repository,
    digest,
    ...(typeof username === 'string' && typeof password === 'string' ? { username, password } : {}),
  };
}

/** The step's image for `image: ARTIFACT`: the artifact's registry reference, else the artifact itself. */
export function artifactImage(artifact: {
  digest: string;
  image?: RegistryImage | undefined;
}): NonNullable<StepSpec['image']> {
  const ref = artifact.image;
  if (ref) return { ...ref, tag: '' };
  return { repository: '', tag: '', digest: '', artifactDigest: artifact.digest };
}
