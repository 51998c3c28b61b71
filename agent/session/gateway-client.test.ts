import { describe, expect, it } from 'vitest';
import { AgentMessage, LogStream } from '../../proto/gen/outpost/v1/agent.js';
import { serializeAgentMessage } from './gateway-client.js';

const log = (data: Buffer, seq: number): AgentMessage => ({
  msg: {
    $case: 'log',
    value: { leaseId: 'lease-1', seq, stream: LogStream.LOG_STREAM_STDOUT, data, atUnixMs: 1700000000000 },
  },
});

describe('the agent gateway serializer', () => {
  it('gives the bytes the generated encoder gives, and each message keeps its own bytes', () => {
    const big = log(Buffer.alloc(70_000, 'line\n'), 1);
    const small = log(Buffer.from('ok\n'), 2);
    const first = serializeAgentMessage(big);
    const firstCopy = Buffer.from(first);
    const second = serializeAgentMessage(small);
    expect(first.equals(Buffer.from(AgentMessage.encode(big).finish()))).toBe(true);
    expect(second.equals(Buffer.from(AgentMessage.encode(small).finish()))).toBe(true);
    // The writer is reused: serializing the second message must not change the first one's bytes.
    expect(first.equals(firstCopy)).toBe(true);
    expect(AgentMessage.decode(first)).toEqual(big);
  });

  it('serializes the next message whole after one that could not be encoded', () => {
    const bad = log(Buffer.from('half'), 3);
    if (bad.msg?.$case === 'log') bad.msg.value.atUnixMs = NaN;
    expect(() => serializeAgentMessage(bad)).toThrow(/NaN/);
    const next = log(Buffer.from('whole\n'), 4);
    expect(AgentMessage.decode(serializeAgentMessage(next))).toEqual(next);
  });
});
