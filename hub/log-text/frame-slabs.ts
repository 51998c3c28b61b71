// SSE frames of log events carved from reused slabs rather than each in a Buffer of its own. Every new
// Buffer of a chunk's size is a fresh malloc the kernel pages in and V8 counts as external memory: with
// grpc-js's message copy and the socket's reads, ~300 MB of them per 100 MB of log drove the hub's
// mark-compacts and its page faults (docs/performance.md, session 12). A slab goes back to the free
// list once it is full and nothing holds a frame in it any more: each socket write of a frame holds a
// reference until its callback (Node calls it once the bytes are in the kernel, or the write failed).

/** A slab frames are carved from, in order; `refs` counts the references to its frames. */
export class FrameSlab {
  refs = 0;
  used = 0;
  /** No more frames are carved from it (it filled up). */
  full = false;
  /** Back on the free list: its bytes belong to the next slab. */
  recycled = false;

  constructor(readonly bytes: Buffer) {}
}

export interface SlabFrame {
  frame: Buffer;
  /** Undefined for a frame too large for a slab (a Buffer of its own, left to the GC). */
  slab: FrameSlab | undefined;
}

export class FrameSlabs {
  private current: FrameSlab | undefined;
  private readonly free: Buffer[] = [];

  constructor(
    private readonly slabBytes = 1024 * 1024,
    /** Slabs kept for reuse (8 MiB at most, held after logs stop); more are left to the GC. */
    private readonly maxFree = 8,
  ) {}

  /** A frame of `size` bytes, with one reference held for the caller (give it back with `release`). */
  take(size: number): SlabFrame {
    if (size > this.slabBytes >>> 2) return { frame: Buffer.allocUnsafe(size), slab: undefined };
    let slab = this.current;
    if (!slab || slab.used + size > slab.bytes.length) {
      if (slab) {
        slab.full = true;
        this.recycle(slab);
      }
      slab = this.current = new FrameSlab(this.free.pop() ?? Buffer.allocUnsafeSlow(this.slabBytes));
    }
    const frame = slab.bytes.subarray(slab.used, slab.used + size);
    slab.used += (size + 7) & ~7;
    slab.refs++;
    return { frame, slab };
  }

  retain(slab: FrameSlab | undefined): void {
    if (slab) slab.refs++;
  }

  release(slab: FrameSlab | undefined): void {
    if (!slab) return;
    slab.refs--;
    this.recycle(slab);
  }

  /** Slabs on the free list (tests). */
  get freeSlabs(): number {
    return this.free.length;
  }

  private recycle(slab: FrameSlab): void {
    if (!slab.full || slab.refs > 0 || slab.recycled) return;
    slab.recycled = true;
    if (this.free.length < this.maxFree) this.free.push(slab.bytes);
  }
}
