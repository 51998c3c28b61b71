import { afterEach, expect, it } from 'vitest';
import type { BuildEvents } from '../events/build-events.js';
import type { BuildView, Store } from '../store/store.js';
import { BuildRun, type BuildRunDeps } from './build-run.js';

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
afterEach(() => {
  process.off('unhandledRejection', onUnhandled);
  unhandled.length = 0;
});

// A hub stopping (SIGTERM) closes its store under builds still running: a build's first write fails,
// and so does the store of its start tried again after it. That failure is the build's (it is left
// unfinished, resumed at the next start); it must not be an unhandled rejection, which ends the process
// with code 1 in the middle of its drain.
it("leaves no unhandled rejection when the build's first write and its start's retry both fail", async () => {
  process.on('unhandledRejection', onUnhandled);
  const closed = () => Promise.reject(new Error('driver has already been destroyed'));
  const deps = {
    store: { updateBuild: closed } as unknown as Store,
    events: { announcement: () => ({}) } as unknown as BuildEvents,
  } as unknown as BuildRunDeps;
  const run = new BuildRun({ id: 1 } as BuildView, deps);
  run.deferStart(1);
  await expect(run.withStart(closed)).rejects.toThrow('destroyed');
  await new Promise((resolve) => setImmediate(resolve));
  expect(unhandled).toEqual([]);
  // A later write of the build still sees that the start is not stored.
  await expect(run.started()).rejects.toThrow('destroyed');
});
