import { describe, expect, it } from 'vitest';
import { Inbox } from './inbox.js';

/** A source whose messages the test pushes, as a stream's arrive. */
function pushSource<T>(): { source: AsyncIterator<T>; push: (value: T) => void } {
  const ready: T[] = [];
  let wake: (() => void) | undefined;
  return {
    source: {
      async next() {
        while (ready.length === 0) await new Promise<void>((resolve) => (wake = resolve));
        return { done: false, value: ready.shift() as T };
      },
    },
    push(value) {
      ready.push(value);
      wake?.();
    },
  };
}

describe('Inbox.caughtUp', () => {
  it('resolves once the handler has handled every message read before it, not those after', async () => {
    const { source, push } = pushSource<string>();
    const inbox = new Inbox(source, 10, () => true);
    const events: string[] = [];
    push('busy');
    push('accepted');
    // The handler is busy with the first message while the second waits in the inbox.
    expect(await inbox.next()).toBe('busy');
    const caught = inbox.caughtUp().then(() => events.push('caught up'));
    await new Promise((resolve) => setImmediate(resolve));
    push('later');
    events.push('handled busy');
    expect(await inbox.next()).toBe('accepted');
    events.push('handled accepted');
    const later = inbox.next(); // asking for the next says `accepted` is handled
    await caught;
    expect(events).toEqual(['handled busy', 'handled accepted', 'caught up']);
    expect(await later).toBe('later');
  });

  it('resolves at once when nothing waits, and when the session ends', async () => {
    const { source, push } = pushSource<string>();
    const inbox = new Inbox(source, 10, () => true);
    await inbox.caughtUp();
    push('unhandled');
    await new Promise((resolve) => setImmediate(resolve));
    const caught = inbox.caughtUp();
    inbox.close();
    await caught;
  });
});
