// `outpost intercept` on the agent: starts the command the hub asked for inside a step (the runner
// finds the step's terminal: local-terminal.ts on this host, or the executor's own, such as an exec
// into a pod) and carries its terminal over a Tunnel stream the agent opens back to the hub (the hub
// cannot dial agents).

import type { Logger } from 'pino';
import type {
  AgentGatewayClient,
  InterceptRequest,
  TunnelToAgent,
} from '../../proto/gen/outpost/v1/agent.js';
import type { InterceptCommand, StepTerminal, TerminalOutput } from '../executors/executor.js';
import type { HubCallMetadata } from '../session/call-metadata.js';

/** Starts `command` inside the step holding `leaseId`; rejects with why it cannot. */
export type TerminalOf = (
  leaseId: string,
  command: InterceptCommand,
  output: TerminalOutput,
) => Promise<StepTerminal>;

/** Opens the Tunnel for `req` and runs its command until it exits or the hub ends the call. */
export function runIntercept(
  client: AgentGatewayClient,
  calls: HubCallMetadata,
  req: InterceptRequest,
  terminalOf: TerminalOf,
  log: Logger,
): void {
  const call = client.tunnel(calls.forSideCall());
  call.on('error', (err: Error) => log.debug({ err, leaseId: req.leaseId }, 'intercept tunnel ended'));
  call.write({ msg: { $case: 'open', value: { tunnelId: req.tunnelId } } });
  const finish = (exitStatus: number, error = '') => {
    if (call.writableEnded) return;
    call.write({ msg: { $case: 'exit', value: { exitStatus, error } } });
    call.end();
  };
  const command: InterceptCommand = {
    argv: req.command,
    tty: req.tty,
    rows: req.size?.rows || 24,
    cols: req.size?.cols || 80,
  };
  const output: TerminalOutput = (stream, data) => {
    if (!call.writableEnded) call.write({ msg: { $case: stream, value: data } });
  };
  // What the user sends before the command has started waits for it.
  const early: TunnelToAgent[] = [];
  let terminal: StepTerminal | undefined;
  let gone = false;
  const deliver = (m: TunnelToAgent) => {
    const msg = m.msg;
    if (!terminal) return void early.push(m);
    if (msg?.$case === 'stdin') terminal.write(msg.value);
    else if (msg?.$case === 'stdinClosed') terminal.closeStdin();
    else if (msg?.$case === 'resize') terminal.resize(msg.value.rows, msg.value.cols);
  };
  call.on('data', deliver);
  // The user went away: the command goes with them.
  const leave = () => {
    gone = true;
    terminal?.kill();
  };
  call.on('end', leave);
  call.on('error', leave);

  void terminalOf(req.leaseId, command, output).then(
    (started) => {
      terminal = started;
      log.info({ leaseId: req.leaseId, command: command.argv[0], tty: command.tty }, 'intercept started');
      if (gone) started.kill();
      for (const m of early.splice(0)) deliver(m);
      void started.exited.then(({ exitStatus, error }) => finish(exitStatus, error));
    },
    (err: unknown) => finish(-1, (err as Error).message),
  );
}
