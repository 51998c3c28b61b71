import { expect, it } from 'vitest';
import { buildsToReap } from './kysely-retention.js';

const DAY = 86_400_000;
const builds = (...spec: ('s' | 'f')[]) =>
  spec.map((k, i) => ({ id: 100 - i, succeeded: k === 's', endedAt: 0 }));

it('keeps the newest N finished builds', () => {
  expect(buildsToReap(builds('s', 'f', 's', 'f'), { builds: 2 }, 0)).toEqual([98, 97]);
});

it('keeps at least the minimum of succeeded builds beyond the limit', () => {
  expect(buildsToReap(builds('f', 'f', 's', 's', 's'), { builds: 1, minimumSucceededBuilds: 2 }, 0)).toEqual([
    99, 96,
  ]);
});

it('lets go of builds older than the days limit', () => {
  const aged = [
    { id: 3, succeeded: true, endedAt: 9 * DAY },
    { id: 2, succeeded: true, endedAt: 1 * DAY },
  ];
  expect(buildsToReap(aged, { days: 3 }, 10 * DAY)).toEqual([2]);
  expect(buildsToReap(aged, {}, 10 * DAY)).toEqual([]);
});
