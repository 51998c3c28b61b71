import { expect, it } from 'vitest';
import { chunksOf, splitAtCharBoundary } from './utf8.js';

it('never cuts a chunk inside a UTF-8 character', () => {
  const text = 'héllo wörld – 日本語 🎉 done';
  const buf = Buffer.from(text);
  for (let max = 4; max <= 12; max++) {
    const pieces = [...chunksOf(buf, max)];
    expect(pieces.every((p) => p.length <= max)).toBe(true);
    expect(pieces.map((p) => p.toString('utf8')).join('')).toBe(text);
  }
});

it('holds back an incomplete trailing sequence', () => {
  const emoji = Buffer.from('🎉');
  const [complete, rest] = splitAtCharBoundary(Buffer.concat([Buffer.from('ok'), emoji.subarray(0, 2)]));
  expect(complete.toString()).toBe('ok');
  expect(rest).toEqual(emoji.subarray(0, 2));
  expect(splitAtCharBoundary(Buffer.from('plain'))[1].length).toBe(0);
});
