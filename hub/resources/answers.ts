// What a resource's check, get and put answer, read defensively: the answer comes from an agent (or a
// resource image) and is only trusted once it has the protocol's shape.

import type { MetadataField, Version } from '../store/store.js';

/** A get's or put's answer. */
export interface Fetched {
  version: Version;
  metadata: MetadataField[];
}

/** A version as the resource protocol has it: an object whose values are all strings. */
export function isVersion(v: unknown): v is Version {
  return (
    !!v && typeof v === 'object' && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string')
  );
}

/** A check's answer: a list of versions (oldest first), or undefined when it is not one. */
export function checkedVersions(result: unknown): Version[] | undefined {
  if (!Array.isArray(result)) return undefined;
  return result.filter((v): v is Version => isVersion(v));
}

/** A get's or put's answer: `{ version, metadata }`, or undefined when it has no version. */
export function fetchedOf(result: unknown): Fetched | undefined {
  if (!result || typeof result !== 'object') return undefined;
  const { version, metadata } = result as { version?: unknown; metadata?: unknown };
  if (!isVersion(version)) return undefined;
  const fields = Array.isArray(metadata)
    ? metadata.filter(
        (m): m is MetadataField =>
          !!m &&
          typeof (m as MetadataField).name === 'string' &&
          typeof (m as MetadataField).value === 'string',
      )
    : [];
  return { version, metadata: fields };
}
