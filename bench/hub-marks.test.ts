import { describe, expect, it } from 'vitest';
import { attributeHubMarks, type HubMark } from './hub-marks.js';

describe('attributeHubMarks', () => {
  it("gives each build the first mark of each kind between its trigger and the next build's", () => {
    // Three builds triggered at 100, 200 and 300; the first is a warmup (not measured).
    const builds = new Map([
      [200, new Map([['trigger', 200]])],
      [300, new Map([['trigger', 300]])],
    ]);
    const marks: HubMark[] = [
      ['built', 101], // the warmup's
      ['leased', 150],
      ['stepEndStored', 201], // the warmup's end, stored after the next trigger: the next build's first
      ['built', 202],
      ['leased', 205],
      ['leased', 206], // a second of its kind: not the build's
      ['buildEndStored', 250],
      ['built', 301],
      ['buildEndStored', 399],
    ];
    attributeHubMarks(marks.reverse(), [300, 100, 200], builds);
    expect(Object.fromEntries(builds.get(200) ?? [])).toEqual({
      trigger: 200,
      stepEndStored: 201,
      built: 202,
      leased: 205,
      buildEndStored: 250,
    });
    expect(Object.fromEntries(builds.get(300) ?? [])).toEqual({
      trigger: 300,
      built: 301,
      buildEndStored: 399,
    });
  });

  it('drops marks from before the first trigger', () => {
    const builds = new Map([[100, new Map<string, number>()]]);
    attributeHubMarks([['built', 99]], [100], builds);
    expect(builds.get(100)?.size).toBe(0);
  });
});
