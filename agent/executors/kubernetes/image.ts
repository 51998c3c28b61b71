// Which image a step's pod runs, and what it pulls with. Never another image than the step asked for:
// - a registry reference with a digest (an `image:` artifact a registry-image get fetched, a pinned
//   image_resource, a resource type's checked version) runs as `repository@digest`;
// - a task's image_resource without a version is asked of its registry for the tag's digest now (the
//   image-check Concourse does), so the pod runs the image the step started with;
// - an artifact that holds an image (the OCI image a task built) is pushed to the pool's registry and
//   runs by the digest it got there; a pool without a registry, or an artifact without an image in a
//   form a registry takes (a bare rootfs/), refuses the step with the reason.
// Credentials: the image resource's source credentials, else the pool registry's, go into the step's
// own pull Secret (secrets.ts); a pool registry's `pull_secret` is an existing Secret instead.
import { readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { unpack } from '../../artifacts/archive.js';
import { RegistryClient } from '../../resources/registry-image/client.js';
import { pushImage } from '../../resources/registry-image/put.js';
import { parseRepository } from '../../resources/registry-image/reference.js';
import type { ExecStep, StepImage } from '../executor.js';
import type { KubernetesPoolSettings, PoolRegistry } from './settings.js';

/** Registry credentials the step's own pull Secret carries. */
export interface PullCredentials {
  repository: string;
  username: string;
  password: string;
}

export interface PodImage {
  /** What the step container runs. */
  reference: string;
  /** For the step's own pull Secret. */
  credentials?: PullCredentials;
  /** An existing Secret of the namespace the pod pulls with. */
  pullSecret?: string;
}

/** The step's image, ready to run (pushed first when it is an artifact), or why it cannot run. */
export async function podImage(
  step: ExecStep,
  pool: KubernetesPoolSettings,
  scratch: string,
): Promise<PodImage | string> {
  const image = step.image;
  if (!image) return { reference: pool.defaultImage };
  if (image.artifact) return pushedImage(image.artifact, pool, scratch);
  const credentials = credentialsOf(image);
  if (image.digest) return { reference: `${image.repository}@${image.digest}`, ...credentials };
  // A resource type's image without a checked version runs by tag, as the hub chose it.
  if (step.resource) return { reference: `${image.repository}:${image.tag || 'latest'}`, ...credentials };
  const digest = await tagDigest(image).catch((err: unknown) => err as Error);
  const named = `${image.repository}:${image.tag || 'latest'}`;
  if (digest instanceof Error)
    return `image ${named}: cannot ask its registry for the digest: ${digest.message}`;
  if (digest === undefined) return `image ${named}: the registry has no such tag`;
  return { reference: `${image.repository}@${digest}`, ...credentials };
}

function credentialsOf(image: StepImage): Pick<PodImage, 'credentials'> {
  if (image.username === undefined || image.password === undefined) return {};
  return {
    credentials: { repository: image.repository, username: image.username, password: image.password },
  };
}

async function tagDigest(image: StepImage): Promise<string | undefined> {
  const client = new RegistryClient(parseRepository(image.repository, false), {
    username: image.username,
    password: image.password,
    insecure: false,
    caCerts: [],
    scope: 'pull',
    signal: AbortSignal.timeout(60_000),
  });
  try {
    return await client.resolve(image.tag || 'latest');
  } finally {
    await client.close();
  }
}

async function pushedImage(
  artifact: NonNullable<StepImage['artifact']>,
  pool: KubernetesPoolSettings,
  scratch: string,
): Promise<PodImage | string> {
  const registry = pool.registry;
  if (!registry)
    return (
      `the task's image is a build artifact (an image a step built), and pool "${pool.pool}" has no ` +
      'registry to push it to (kubernetes.registry in the agent config): its pods run only images from a registry'
    );
  if (!artifact.archive) return "the task's image artifact was not fetched";
  const dir = path.join(scratch, 'image');
  try {
    await unpack(artifact.archive, dir);
    const found = await findImage(dir);
    if (typeof found === 'string') return found;
    const password =
      registry.passwordFile === undefined
        ? undefined
        : (await readFile(registry.passwordFile, 'utf8')).trim();
    const client = new RegistryClient(parseRepository(registry.repository, registry.insecure), {
      username: registry.username,
      password,
      insecure: registry.insecure,
      caCerts: [],
      scope: 'pull,push',
      signal: AbortSignal.timeout(30 * 60_000),
    });
    let digest: string;
    try {
      digest = await pushImage(client, found.file, "the task's image artifact", [tagFor(artifact.digest)]);
    } finally {
      await client.close();
    }
    return { reference: `${registry.repository}@${digest}`, ...registryPull(registry, password) };
  } catch (err) {
    return `pushing the task's image to ${registry.repository}: ${(err as Error).message}`;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function registryPull(registry: PoolRegistry, password: string | undefined): Omit<PodImage, 'reference'> {
  if (registry.pullSecret) return { pullSecret: registry.pullSecret };
  if (registry.username === undefined || password === undefined) return {};
  return { credentials: { repository: registry.repository, username: registry.username, password } };
}

/** A tag that keeps the pushed image from a registry's garbage collection: the artifact's own digest. */
function tagFor(artifactDigest: string): string {
  return `outpost-${artifactDigest.replace(/[^A-Za-z0-9_.-]/g, '-')}`.slice(0, 128);
}

/**
 * Where in the artifact its image is: an OCI layout at its root or in `image/` or `oci/`, else `image.tar` (an
 * image or OCI layout tarball, as oci-build-task writes) there. A string: why there is none.
 */
async function findImage(dir: string): Promise<{ file: string } | string> {
  const exists = (rel: string) =>
    stat(path.join(dir, rel)).then(
      () => true,
      () => false,
    );
  for (const rel of ['.', 'image', 'oci'])
    if (await exists(path.join(rel, 'oci-layout'))) return { file: path.join(dir, rel) };
  for (const rel of ['image.tar', 'image/image.tar'])
    if (await exists(rel)) return { file: path.join(dir, rel) };
  if (await exists('rootfs'))
    return (
      "the task's image artifact holds only a root filesystem (rootfs/), which a Kubernetes pod cannot run: " +
      'build an OCI image (image.tar or an OCI layout, as oci-build-task writes) or fetch the image with a registry-image get'
    );
  return "the task's image artifact holds no image: expected image.tar or an OCI layout (oci-layout, index.json) at its root or in image/";
}
