// Renders a build's event stream the way fly does and works out fly's exit code. Pure: it is handed
// decoded envelopes and writes strings.

import type {
  BuildEventEnvelope,
  BuildStatus,
  ErrorEvent,
  FinishTaskEvent,
  LogEvent,
  Origin,
  SelectedWorkerEvent,
  StartTaskEvent,
  StatusEvent,
  WaitingForWorkerEvent,
} from '../../hub/api/types.js';
import type { Style } from './ansi.js';
import { formatClock, toMillis } from './time.js';

export const TERMINAL_STATUSES: readonly BuildStatus[] = ['succeeded', 'failed', 'errored', 'aborted'];

export function isTerminal(status: BuildStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

/** fly's rule: a non-zero exit status of the last finished task wins; else by build status. */
export function exitCodeFor(status: BuildStatus, lastExitStatus: number | undefined): number {
  if (lastExitStatus !== undefined && lastExitStatus !== 0) return lastExitStatus;
  switch (status) {
    case 'succeeded':
      return 0;
    case 'failed':
      return 1;
    case 'errored':
      return 2;
    case 'aborted':
      return 3;
    default:
      return 2;
  }
}

export interface EventRenderOptions {
  style: Style;
  /** Prefix every output line with HH:MM:SS (local time) of the event that started it. */
  timestamps: boolean;
}

// Event payloads come off the wire: every field is checked before use.
type Loose<T> = { [K in keyof T]?: unknown };

export class BuildEventRenderer {
  private atLineStart = true;
  /** exit_status of the most recently finished task. */
  lastExitStatus: number | undefined;
  /** The terminal status, once the final status event arrived. */
  status: BuildStatus | undefined;

  constructor(
    private readonly write: (s: string) => void,
    private readonly opts: EventRenderOptions,
  ) {}

  exitCode(status: BuildStatus): number {
    return exitCodeFor(status, this.lastExitStatus);
  }

  handle(envelope: BuildEventEnvelope): void {
    const data = (typeof envelope.data === 'object' && envelope.data !== null ? envelope.data : {}) as Record<
      string,
      unknown
    >;
    const time = typeof data.time === 'number' ? data.time : undefined;
    const { style } = this.opts;
    switch (envelope.event) {
      case 'log': {
        const d = data as Loose<LogEvent>;
        if (typeof d.payload !== 'string') break;
        // A log of no step is the hub's note on the build itself (why it is pending): dimmed.
        const origin = d.origin as Loose<Origin> | undefined;
        if (typeof origin?.id === 'string') this.text(d.payload, time);
        else this.line(style.dim(d.payload.replace(/\n$/, '')), time);
        break;
      }
      case 'initialize-check':
        this.line(style.bold(`initializing check: ${String(data.name)}`), time);
        break;
      case 'initialize-task':
        this.line(style.bold('initializing'), time);
        break;
      case 'start-task': {
        const run = (data as Loose<StartTaskEvent>).config as Loose<StartTaskEvent['config']> | undefined;
        const r = (run?.run ?? {}) as Loose<StartTaskEvent['config']['run']>;
        const path = typeof r.path === 'string' ? r.path : '';
        const args = Array.isArray(r.args) ? r.args.map(String) : [];
        this.line(style.bold(['running', path, ...args].join(' ')), time);
        break;
      }
      case 'finish-task': {
        const d = data as Loose<FinishTaskEvent>;
        if (typeof d.exit_status === 'number') this.lastExitStatus = d.exit_status;
        break;
      }
      case 'error': {
        const d = data as Loose<ErrorEvent>;
        this.line(style.red(typeof d.message === 'string' ? d.message : 'unknown error'), time);
        break;
      }
      case 'selected-worker': {
        const d = data as Loose<SelectedWorkerEvent>;
        this.line(style.dim(`selected worker: ${String(d.selected_worker)} (pool ${String(d.pool)})`), time);
        break;
      }
      case 'waiting-for-worker': {
        const d = data as Loose<WaitingForWorkerEvent>;
        this.line(style.dim(`waiting for a worker: ${String(d.reason)}`), time);
        break;
      }
      case 'status': {
        const d = data as Loose<StatusEvent>;
        const status = d.status as BuildStatus;
        if (typeof status === 'string' && isTerminal(status)) {
          this.status = status;
          this.line(this.colourStatus(status), time);
        }
        break;
      }
      default:
        break;
    }
  }

  /** Ends a partial log line, so that whatever is printed after the stream starts on its own line. */
  finish(): void {
    if (!this.atLineStart) {
      this.write('\n');
      this.atLineStart = true;
    }
  }

  private colourStatus(status: BuildStatus): string {
    const { style } = this.opts;
    switch (status) {
      case 'succeeded':
        return style.green(status);
      case 'failed':
        return style.red(status);
      case 'errored':
        return style.brightRedBold(status);
      case 'aborted':
        return style.yellow(status);
      default:
        return status;
    }
  }

  private prefix(time: number | undefined): string {
    if (!this.opts.timestamps) return '';
    return time === undefined ? ' '.repeat(10) : `${formatClock(toMillis(time))}  `;
  }

  /** A line of its own: ends a pending partial log line first. */
  private line(s: string, time: number | undefined): void {
    this.finish();
    this.write(this.prefix(time) + s + '\n');
  }

  /** Log output as-is; partial lines continue with the next log event. */
  private text(payload: string, time: number | undefined): void {
    if (!this.opts.timestamps) {
      if (payload === '') return;
      this.write(payload);
      this.atLineStart = payload.endsWith('\n');
      return;
    }
    let out = '';
    for (const piece of payload.split(/(?<=\n)/)) {
      if (piece === '') continue;
      if (this.atLineStart) out += this.prefix(time);
      out += piece;
      this.atLineStart = piece.endsWith('\n');
    }
    this.write(out);
  }
}
