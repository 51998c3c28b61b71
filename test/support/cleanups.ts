// Teardown registered as a test goes: `const defer = cleanupAfterEach()` at a test file's top level, then
// `defer(() => hub.close())` after each start. Runs newest first after every test, even a failed one.

import { afterEach } from 'vitest';

export function cleanupAfterEach(): (fn: () => Promise<void> | void) => void {
  const pending: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const fn of pending.splice(0).reverse()) await fn();
  });
  return (fn) => void pending.push(fn);
}
