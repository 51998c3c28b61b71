import { describe, expect, it } from 'vitest';
import { FrameSlabs } from './frame-slabs.js';

describe('FrameSlabs', () => {
  it('reuses a slab only once it is full and every reference to its frames is released', () => {
    const slabs = new FrameSlabs(64, 4);
    const first = slabs.take(16);
    first.frame.fill(1);
    const second = slabs.take(16);
    slabs.retain(second.slab); // a write of the second frame still in flight
    slabs.release(first.slab);
    slabs.release(second.slab);
    expect(slabs.freeSlabs).toBe(0); // not full yet
    for (let i = 0; i < 2; i++) slabs.release(slabs.take(16).slab); // four frames of 16 bytes fill it
    const next = slabs.take(16); // the first slab is full now, but the write still holds it
    expect(next.slab).not.toBe(first.slab);
    expect(slabs.freeSlabs).toBe(0);
    expect(first.frame.every((b) => b === 1)).toBe(true);
    slabs.release(second.slab); // the write completed
    expect(slabs.freeSlabs).toBe(1);
    slabs.release(second.slab); // a stray second release does not free it twice
    expect(slabs.freeSlabs).toBe(1);
  });

  it('gives a frame larger than a quarter slab a Buffer of its own', () => {
    const slabs = new FrameSlabs(64, 4);
    const big = slabs.take(17);
    expect(big.slab).toBeUndefined();
    expect(big.frame.length).toBe(17);
  });
});
