// A step's Finished names its outputs by digest; the hub believes only what it received under that lease.

import type { StepUpload } from '../store/store.js';

/**
 * Why a Finished's outputs cannot be believed, or undefined: each output it names must be the one this
 * lease uploaded, digest and size. Otherwise a step could claim any artifact in the store as its output
 * (another team's, known by digest) and hand it to the next steps.
 */
export function outputsMismatch(
  reported: readonly { name: string; digest: string; size: number }[],
  uploads: readonly StepUpload[],
): string | undefined {
  for (const output of reported) {
    const upload = uploads.find((u) => u.name === output.name);
    if (!upload) return `output "${output.name}" was reported but never uploaded under this lease`;
    if (upload.digest !== output.digest || upload.size !== output.size)
      return (
        `output "${output.name}" was reported as ${output.digest} (${output.size} bytes) ` +
        `but uploaded as ${upload.digest} (${upload.size} bytes)`
      );
  }
  return undefined;
}
