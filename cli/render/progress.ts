// A one-line progress bar for transfers on a terminal (`execute`'s uploads and downloads); off a
// terminal, one line when the transfer is done, so logs stay readable.

import { Transform } from 'node:stream';
import type { CliWriter } from '../io.js';

const WIDTH = 30;
/** Redraws at most this often, so a fast transfer does not flood the terminal. */
const REDRAW_MS = 100;

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${n} B` : `${value.toFixed(1)} ${units[unit]}`;
}

export class ProgressBar {
  private done = 0;
  private lastDraw = 0;

  constructor(
    private readonly out: CliWriter,
    private readonly label: string,
    private readonly total: number,
    private readonly tty: boolean,
  ) {}

  advance(bytes: number): void {
    this.done += bytes;
    const now = Date.now();
    if (this.tty && now - this.lastDraw >= REDRAW_MS) {
      this.lastDraw = now;
      this.draw();
    }
  }

  /** A pass-through stream that advances the bar by what flows through it. */
  meter(): Transform {
    return new Transform({
      transform: (chunk: Buffer, _enc, done) => {
        this.advance(chunk.length);
        done(null, chunk);
      },
    });
  }

  finish(): void {
    if (this.tty) {
      this.draw();
      this.out.write('\n');
    } else {
      this.out.write(`${this.label}: ${formatBytes(this.done)} done\n`);
    }
  }

  private draw(): void {
    const ratio = this.total > 0 ? Math.min(1, this.done / this.total) : 1;
    const filled = Math.round(ratio * WIDTH);
    const bar = '#'.repeat(filled) + '.'.repeat(WIDTH - filled);
    const pct = `${Math.floor(ratio * 100)}%`.padStart(4);
    this.out.write(
      `\r${this.label} [${bar}] ${pct} ${formatBytes(this.done)}/${formatBytes(this.total)}\x1b[K`,
    );
  }
}
