// The agent's client of the hub's gateway: the generated one, with the session stream's messages (log
// chunks among them) serialized by one long-lived protobuf writer into a Buffer over the writer's own
// bytes. The generated serializer starts a writer per message, so a 64 KiB chunk grew it from a few
// bytes by doubling (each step a zero-filled array and a copy) and then copied the result into a
// Buffer: in a profile of a step printing fast, about a tenth of the agent's busy time.

import { makeGenericClientConstructor } from '@grpc/grpc-js';
import { BinaryWriter } from '@bufbuild/protobuf/wire';
import { AgentGatewayClient, AgentGatewayService, AgentMessage } from '../../proto/gen/outpost/v1/agent.js';

/** Keeps the largest buffer it needed; serializing is synchronous, so one writer serves every call. */
let writer = new BinaryWriter();

/** The message's bytes; `finish` returns a copy of exactly them, which the Buffer wraps as it is. */
export function serializeAgentMessage(message: AgentMessage): Buffer {
  try {
    const bytes = AgentMessage.encode(message, writer).finish();
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  } catch (err) {
    // A message that could not be encoded must not leave its half in the next one's bytes.
    writer = new BinaryWriter();
    throw err;
  }
}

export const GatewayClient = makeGenericClientConstructor(
  {
    ...AgentGatewayService,
    connect: { ...AgentGatewayService.connect, requestSerialize: serializeAgentMessage },
  },
  AgentGatewayClient.serviceName,
) as unknown as typeof AgentGatewayClient;
