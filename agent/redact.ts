// Replaces secret values in a step's output with "((redacted))" before it leaves the agent. Output
// arrives in arbitrary chunks, so an end of a chunk that could start a secret is held back until the
// next chunk shows whether it does; anything else goes out at once (at a line's end, nothing is held
// unless a secret spans lines).

const MASK = Buffer.from('((redacted))');

export class Redactor {
  private readonly secrets: Buffer[];
  private readonly keep: number;
  private pending: Buffer = Buffer.alloc(0);

  constructor(secrets: readonly string[]) {
    // Longest first, so a secret that contains another is masked whole.
    this.secrets = [...new Set(secrets.filter((s) => s.length > 0))]
      .map((s) => Buffer.from(s))
      .sort((a, b) => b.length - a.length);
    this.keep = Math.max(0, ...this.secrets.map((s) => s.length - 1));
  }

  get active(): boolean {
    return this.secrets.length > 0;
  }

  /** The bytes that are safe to emit now. */
  push(data: Buffer): Buffer {
    if (!this.active) return data;
    const masked = this.mask(Buffer.concat([this.pending, data]));
    const cut = masked.length - this.startOfSecret(masked);
    this.pending = masked.subarray(cut);
    return masked.subarray(0, cut);
  }

  /** How many bytes push() holds back until more output comes. */
  get held(): number {
    return this.pending.length;
  }

  /** The length of the longest end of `buf` that is the beginning of a secret. */
  private startOfSecret(buf: Buffer): number {
    for (let n = Math.min(this.keep, buf.length); n > 0; n--) {
      const tail = buf.subarray(buf.length - n);
      if (this.secrets.some((s) => s.length > n && tail.equals(s.subarray(0, n)))) return n;
    }
    return 0;
  }

  /** Whatever was held back, at the end of the output. */
  flush(): Buffer {
    const rest = this.pending;
    this.pending = Buffer.alloc(0);
    return rest;
  }

  private mask(buf: Buffer): Buffer {
    let out = buf;
    for (const secret of this.secrets) {
      const parts: Buffer[] = [];
      let from = 0;
      for (let at = out.indexOf(secret, from); at >= 0; at = out.indexOf(secret, from)) {
        parts.push(out.subarray(from, at), MASK);
        from = at + secret.length;
      }
      if (parts.length > 0) out = Buffer.concat([...parts, out.subarray(from)]);
    }
    return out;
  }
}
