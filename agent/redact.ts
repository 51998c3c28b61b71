// Replaces secret values in a step's output with "((redacted))" before it leaves the agent. Output
// arrives in arbitrary chunks, so the last (longest secret - 1) bytes are held back until the next
// chunk shows whether they start a secret.

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
    const cut = Math.max(0, masked.length - this.keep);
    this.pending = masked.subarray(cut);
    return masked.subarray(0, cut);
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
