// Schemas of the values routes share: names and ids in paths, and the `limit` of listings.

import { z } from 'zod';

/** A team, pipeline, job, resource or build name in a path; whether it exists is the handler's 404. */
export const name = z.string().min(1);

/**
 * A database id: decimal digits only, without sign, leading zero, exponent or fraction, so `/builds/0x1`,
 * `/builds/1e0`, `/builds/-1` and `/builds/01` are 400s rather than build 1.
 */
export const id = z
  .string()
  .regex(/^(0|[1-9]\d{0,14})$/, 'must be a whole number in decimal digits, like 42')
  .transform(Number);

/** How many entries a listing returns: 1 to 1000 (larger asks get 1000), `fallback` when absent. */
export const limit = (fallback: number) =>
  z
    .string()
    .regex(/^[1-9]\d{0,14}$/, 'must be a whole number from 1, like 50')
    .transform((text) => Math.min(Number(text), 1000))
    .default(fallback);

export const pipelineParams = z.object({ team: name, pipeline: name });
export const jobParams = pipelineParams.extend({ job: name });
export const resourceParams = pipelineParams.extend({ resource: name });
export const versionParams = resourceParams.extend({ id });
