// One switch for CI: with OUTPOST_REQUIRE_ALL=1 (set by .ci/run) a test that would be skipped because
// this machine lacks something it needs (the conformance corpus, root and mount namespaces for the fake
// cluster's chroot isolation, the chart renderer's Go toolchain) fails instead, naming what is missing.
// Without it such tests are skipped, and the reason is printed.

export const requireAll = process.env.OUTPOST_REQUIRE_ALL === '1';

/** The message of a failure for a missing prerequisite under the switch. */
export function requiredMessage(reason: string): string {
  return `${reason} (OUTPOST_REQUIRE_ALL=1: tests that depend on the environment must run, not skip)`;
}

/**
 * Inside a test: skips it with `reason` printed, or under the switch fails it. For a whole file or
 * describe block, test `requireAll` where the reason is known and throw `requiredMessage(reason)`.
 */
export function skipForEnvironment(ctx: { skip: (note?: string) => never }, reason: string): never {
  if (requireAll) throw new Error(requiredMessage(reason));
  console.log(`skipped: ${reason}`);
  return ctx.skip(reason);
}
