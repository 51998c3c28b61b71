// Intercept terminals (`outpost intercept`): the hub asks an agent over its Connect stream to run a
// command inside a step, and the agent dials back a Tunnel stream for that command's input and output.
// This module pairs the two and hands the API a Terminal; gRPC types stay here.

import { randomUUID } from 'node:crypto';
import { status as GrpcStatus, type ServerDuplexStream } from '@grpc/grpc-js';
import type { TunnelFromAgent, TunnelToAgent } from '../../proto/gen/outpost/v1/agent.js';
import type { AgentConnection, InterceptOrder } from '../dispatch/types.js';

export type TerminalFrame =
  | { kind: 'stdout' | 'stderr'; data: Buffer }
  /** The last frame: the command's exit status, or why it never ran (`error`, exit status -1). */
  | { kind: 'exit'; exitStatus: number; error: string };

/** One intercepted command's terminal, as the API sees it. */
export interface Terminal {
  frames(): AsyncIterable<TerminalFrame>;
  stdin(data: Buffer): void;
  closeStdin(): void;
  resize(rows: number, cols: number): void;
  /** Ends the command (the user went away). */
  close(): void;
}

type TunnelCall = ServerDuplexStream<TunnelFromAgent, TunnelToAgent>;

/** How long an agent has to open the Tunnel after the request. */
const OPEN_TIMEOUT_MS = 10_000;

export class Tunnels {
  /** Tunnels asked for and not yet opened: the agent that must open each, and who waits for it. */
  private readonly pending = new Map<string, { agentName: string; opened: (call: TunnelCall) => void }>();

  constructor(private readonly connection: (agentName: string) => AgentConnection | undefined) {}

  /** Whether the agent's stream is on this hub (replica), so that it can open a terminal. */
  reaches(agentName: string): boolean {
    return this.connection(agentName) !== undefined;
  }

  /** Runs the command in the step `leaseId` holds on agent `agentName`; a string says why it cannot. */
  async open(agentName: string, order: Omit<InterceptOrder, 'tunnelId'>): Promise<Terminal | string> {
    const agent = this.connection(agentName);
    if (!agent) return `agent "${agentName}" that runs the step is not connected`;
    const tunnelId = randomUUID();
    let timer: NodeJS.Timeout | undefined;
    const opened = new Promise<TunnelCall | undefined>((resolve) => {
      this.pending.set(tunnelId, { agentName, opened: resolve });
      timer = setTimeout(() => resolve(undefined), OPEN_TIMEOUT_MS);
    });
    agent.intercept({ ...order, tunnelId });
    const call = await opened;
    clearTimeout(timer);
    this.pending.delete(tunnelId);
    if (!call) return `agent "${agentName}" did not open the terminal within ${OPEN_TIMEOUT_MS / 1000}s`;
    return terminalOf(call);
  }

  /**
   * A Tunnel call from an agent whose session the gateway identified as `callerAgent`: its first message
   * names the tunnel it is for, which only the agent running the step may open. Another agent's attempt
   * (the tunnel id leaked; a token shared by several agents) is refused and `onRefused` called; the
   * tunnel keeps waiting for its own agent.
   */
  accept(call: TunnelCall, callerAgent: string, onRefused: () => void): void {
    call.once('data', (first: TunnelFromAgent) => {
      const id = first.msg?.$case === 'open' ? first.msg.value.tunnelId : '';
      const waiter = this.pending.get(id);
      if (!waiter) {
        call.emit('error', {
          code: GrpcStatus.NOT_FOUND,
          details: `no intercept is waiting for tunnel "${id}"`,
        });
        return;
      }
      if (waiter.agentName !== callerAgent) {
        onRefused();
        call.emit('error', {
          code: GrpcStatus.PERMISSION_DENIED,
          details: `tunnel "${id}" is for a step of another agent`,
        });
        return;
      }
      this.pending.delete(id);
      // Paused until the API reads it, so no frame is lost in between.
      call.pause();
      waiter.opened(call);
    });
  }
}

function terminalOf(call: TunnelCall): Terminal {
  const send = (msg: TunnelToAgent['msg']) => {
    if (!call.writableEnded && !call.destroyed) call.write({ msg });
  };
  return {
    async *frames() {
      let exited = false;
      try {
        for await (const m of call as AsyncIterable<TunnelFromAgent>) {
          const msg = m.msg;
          if (msg?.$case === 'stdout' || msg?.$case === 'stderr')
            yield { kind: msg.$case, data: Buffer.from(msg.value) };
          else if (msg?.$case === 'exit') {
            exited = true;
            yield { kind: 'exit', exitStatus: msg.value.exitStatus, error: msg.value.error };
            return;
          }
        }
      } catch {
        // The agent's side broke off: reported below as an exit without a status.
      }
      if (!exited) yield { kind: 'exit', exitStatus: -1, error: 'the agent ended the terminal' };
    },
    stdin: (data) => send({ $case: 'stdin', value: data }),
    closeStdin: () => send({ $case: 'stdinClosed', value: true }),
    resize: (rows, cols) => send({ $case: 'resize', value: { rows, cols } }),
    close: () => {
      if (!call.writableEnded) call.end();
    },
  };
}
