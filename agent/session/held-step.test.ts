// HeldStep's log numbering around checkpoints: what a reattached kubernetes step relies on.
import { describe, expect, it } from 'vitest';
import { LogStream, type Finished, type LogChunk } from '../../proto/gen/outpost/v1/agent.js';
import type { LogCheckpoint } from '../executors/executor.js';
import { HeldStep, type Outbox } from './held-step.js';

function outbox(): Outbox & { logs: LogChunk[] } {
  const logs: LogChunk[] = [];
  return {
    logs,
    sendAccepted: () => undefined,
    sendStarted: () => undefined,
    sendLog: (chunk) => logs.push(chunk) > 0,
    sendFinished: (_f: Finished) => undefined,
  };
}

const push = (held: HeldStep, text: string) => held.push(LogStream.LOG_STREAM_STDOUT, Buffer.from(text), 0);
const texts = (chunks: LogChunk[]) => chunks.map((c) => `${c.seq}:${Buffer.from(c.data).toString()}`);

describe('HeldStep checkpoints', () => {
  it('hands back the newest checkpoint the hub acknowledged, once', async () => {
    const held = new HeldStep('l', 'p', 1 << 20);
    const stored: LogCheckpoint[] = [];
    held.onStored = (c) => stored.push(c);
    held.attach(outbox(), 0, 1 << 20);
    await push(held, 'a\n');
    held.checkpoint('pos-a');
    await push(held, 'b\n');
    held.checkpoint('pos-b');
    await push(held, 'c');
    held.ack(1);
    expect(stored).toEqual([{ seq: 1, position: 'pos-a' }]);
    held.ack(3);
    expect(stored).toEqual([
      { seq: 1, position: 'pos-a' },
      { seq: 2, position: 'pos-b' },
    ]);
  });

  it('a resumed step numbers its log after its checkpoint; what the hub has is not sent again', async () => {
    const held = new HeldStep('l', 'p', 1 << 20, { seq: 5, position: 'pos-5' });
    expect(held.heldState.ackedLogSeq).toBe(5);
    await push(held, 'six\n');
    await push(held, 'seven\n');
    const out = outbox();
    held.attach(out, 6, 1 << 20);
    expect(texts(out.logs)).toEqual(['7:seven\n']);
  });

  it('after a gap, a resumed step waits for the Welcome and goes on after what the hub stored', async () => {
    const held = new HeldStep('l', 'p', 1 << 20, { seq: 5, position: 'pos-5' });
    let gapDone = false;
    const gap = held.gap().then(() => (gapDone = true));
    await Promise.resolve();
    expect(gapDone).toBe(false);
    const out = outbox();
    held.attach(out, 9, 1 << 20);
    await gap;
    await push(held, '[outpost] lines are missing here\n');
    expect(texts(out.logs)).toEqual(['10:[outpost] lines are missing here\n']);
  });
});
