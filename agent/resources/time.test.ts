import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BuiltinContext } from './builtin.js';
import { formatTime, parseRfc3339, parseTimeOfDay, parseTimeSource, shouldEmit, time } from './time.js';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'outpost-time-test-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function context(kind: BuiltinContext['kind'], request: unknown, now: string): BuiltinContext {
  return {
    kind,
    requestJson: JSON.stringify(request),
    dir,
    env: {},
    privileged: false,
    log: () => {},
    signal: new AbortController().signal,
    now: () => new Date(now),
  };
}

/** The versions a check at `now` emits, after the version at `previous` (an RFC 3339 time) if any. */
async function check(source: Record<string, unknown>, now: string, previous?: string): Promise<unknown> {
  return time(context('check', { source, version: previous ? { time: previous } : null }, now));
}

function failure(source: Record<string, unknown>): Promise<string> {
  return time(context('check', { source, version: null }, '2024-01-15T12:00:00Z')).then(
    () => 'succeeded',
    (err: unknown) => (err as Error).message,
  );
}

describe('time check: interval', () => {
  it('emits the current time when there is no version yet', async () => {
    expect(await check({ interval: '1h' }, '2024-01-15T12:00:00Z')).toEqual([
      { time: '2024-01-15T12:00:00Z' },
    ]);
  });

  it('emits a new version only once the interval has passed since the given one', async () => {
    const previous = '2024-01-15T11:00:00.5Z';
    expect(await check({ interval: '1h' }, '2024-01-15T11:59:00Z', previous)).toEqual([{ time: previous }]);
    expect(await check({ interval: '1h' }, '2024-01-15T12:00:00.5Z', previous)).toEqual([
      { time: previous },
      { time: '2024-01-15T12:00:00.5Z' },
    ]);
  });

  it('reads given versions with nanoseconds and offsets', async () => {
    // 11:00:00 UTC, written in +05:30 with nanoseconds as Go prints it.
    const previous = '2024-01-15T16:30:00.123456789+05:30';
    expect(await check({ interval: '30m' }, '2024-01-15T11:29:00Z', previous)).toHaveLength(1);
    expect(await check({ interval: '30m' }, '2024-01-15T11:30:00.123Z', previous)).toHaveLength(2);
  });

  it('with initial_version emits the current time at once, even outside the window', async () => {
    const source = { start: '8:00 PM', stop: '9:00 PM', initial_version: true };
    expect(await check(source, '2024-01-15T12:00:00Z')).toEqual([{ time: '2024-01-15T12:00:00Z' }]);
    expect(await check({ start: '8:00 PM', stop: '9:00 PM' }, '2024-01-15T12:00:00Z')).toEqual([]);
  });
});

describe('time check: start/stop windows in a location', () => {
  const evening = { start: '8:00 PM', stop: '9:00 PM', location: 'America/New_York' };

  it('emits inside the window and not outside it, in the zone of `location`', async () => {
    // 01:30Z on Jan 15 is 20:30 EST on Jan 14; 02:30Z is 21:30.
    expect(await check(evening, '2024-01-15T01:30:00Z')).toEqual([{ time: '2024-01-14T20:30:00-05:00' }]);
    expect(await check(evening, '2024-01-15T02:30:00Z')).toEqual([]);
  });

  it('follows daylight saving time', async () => {
    // 00:30Z is 20:30 in July (EDT, -4) but 19:30 in January (EST, -5).
    expect(await check(evening, '2024-07-15T00:30:00Z')).toEqual([{ time: '2024-07-14T20:30:00-04:00' }]);
    expect(await check(evening, '2024-01-15T00:30:00Z')).toEqual([]);
  });

  it('without an interval emits once per window', async () => {
    const earlierToday = '2024-01-14T20:10:00-05:00';
    expect(await check(evening, '2024-01-15T01:40:00Z', earlierToday)).toEqual([{ time: earlierToday }]);
    const yesterday = '2024-01-13T20:10:00-05:00';
    expect(await check(evening, '2024-01-15T01:40:00Z', yesterday)).toEqual([
      { time: yesterday },
      { time: '2024-01-14T20:40:00-05:00' },
    ]);
  });

  it('with an interval emits on the interval inside the window', async () => {
    const source = { ...evening, interval: '10m' };
    const previous = '2024-01-14T20:10:00-05:00';
    expect(await check(source, '2024-01-15T01:15:00Z', previous)).toHaveLength(1);
    expect(await check(source, '2024-01-15T01:20:00Z', previous)).toHaveLength(2);
    expect(await check(source, '2024-01-15T02:20:00Z', previous)).toHaveLength(1);
  });

  it('handles a window across midnight', async () => {
    const night = { start: '23:00', stop: '0100' };
    expect(await check(night, '2024-01-15T23:30:00Z')).toHaveLength(1);
    expect(await check(night, '2024-01-16T00:30:00Z')).toHaveLength(1);
    expect(await check(night, '2024-01-16T01:30:00Z')).toHaveLength(0);
    expect(await check(night, '2024-01-15T22:59:00Z')).toHaveLength(0);
  });
});

describe('time check: days', () => {
  it('emits only on the listed weekdays, as seen in `location`', async () => {
    // 2024-01-14T20:00Z is Sunday in UTC and Monday 05:00 in Tokyo.
    const now = '2024-01-14T20:00:00Z';
    expect(await check({ days: ['Monday'], location: 'Asia/Tokyo' }, now)).toEqual([
      { time: '2024-01-15T05:00:00+09:00' },
    ]);
    expect(await check({ days: ['Monday'] }, now)).toEqual([]);
    expect(await check({ days: ['monday', 'Sun'] }, now)).toHaveLength(1);
  });
});

describe('time source errors', () => {
  it('names what is wrong', async () => {
    expect(await failure({ start: '8:00 PM' })).toBe("must configure 'stop' if 'start' is set");
    expect(await failure({ stop: '8:00 PM' })).toBe("must configure 'start' if 'stop' is set");
    expect(await failure({ location: 'Mars/Olympus' })).toBe(
      'source.location "Mars/Olympus": unknown time zone',
    );
    expect(await failure({ days: ['Someday'] })).toBe('source.days: unknown weekday "Someday"');
    expect(await failure({ interval: 'often' })).toMatch(/^source.interval "often": want a duration/);
    expect(await failure({ start: '25:00', stop: '26:00' })).toMatch(
      /^source.start "25:00": invalid time format/,
    );
    expect(await failure({ initial_version: 'yes' })).toBe(
      'source.initial_version must be true or false, not a string',
    );
  });
});

describe('time get and put', () => {
  it('get writes the request to `input` and the time to `timestamp`, and returns the version', async () => {
    const request = { source: { interval: '1h' }, params: {}, version: { time: '2024-01-15T12:00:00Z' } };
    const response = await time(context('get', request, '2024-02-01T00:00:00Z'));
    expect(response).toEqual({ version: { time: '2024-01-15T12:00:00Z' }, metadata: [] });
    expect(JSON.parse(await readFile(path.join(dir, 'input'), 'utf8'))).toEqual(request);
    expect(await readFile(path.join(dir, 'timestamp'), 'utf8')).toBe('2024-01-15T12:00:00Z\n');
  });

  it('put returns the current time in the location', async () => {
    const request = { source: { location: 'Asia/Kolkata' }, params: {} };
    expect(await time(context('put', request, '2024-01-15T01:30:00.120Z'))).toEqual({
      version: { time: '2024-01-15T07:00:00.12+05:30' },
      metadata: [],
    });
  });
});

describe('time formats', () => {
  it('parses every start/stop format', () => {
    for (const text of ['8:00 PM', '8PM', '8 PM', '20:00', '2000', '8:00 pm'])
      expect([text, parseTimeOfDay(text, 'start')]).toEqual([text, 20 * 60]);
    expect(parseTimeOfDay('12:30 AM', 'start')).toBe(30);
    expect(parseTimeOfDay('12 PM', 'start')).toBe(12 * 60);
    // A (deprecated) offset moves the time to UTC.
    expect(parseTimeOfDay('8:00 PM -0700', 'start')).toBe(3 * 60);
    expect(parseTimeOfDay('0100 +0200', 'start')).toBe(23 * 60);
    expect(() => parseTimeOfDay('13 PM', 'stop')).toThrow(/invalid time format/);
  });

  it('prints and reads RFC 3339', () => {
    const at = Date.parse('2024-01-15T01:30:00.100Z');
    expect(formatTime(at, 'UTC')).toBe('2024-01-15T01:30:00.1Z');
    expect(formatTime(at, 'America/St_Johns')).toBe('2024-01-14T22:00:00.1-03:30');
    expect(parseRfc3339('2024-01-14T22:00:00.100999-03:30')).toBe(at);
    expect(parseRfc3339('2024-01-15 01:30:00Z')).toBe(Date.parse('2024-01-15T01:30:00Z'));
    expect(parseRfc3339('yesterday')).toBeUndefined();
  });
});

describe('time check: cadence under a checker (docs/pipelines.md)', () => {
  /**
   * Versions emitted by checks that start every `checkEveryS` seconds and run `runDelaysMs` later (a
   * check's clock is the agent's when it runs): the gaps between versions, in seconds.
   */
  function versionGaps(intervalS: number, checkEveryS: number, runDelaysMs: number[]): number[] {
    const source = parseTimeSource({ interval: `${intervalS}s` });
    const versions: number[] = [];
    runDelaysMs.forEach((delay, i) => {
      const now = Date.UTC(2024, 0, 15, 12) + i * checkEveryS * 1000 + delay;
      if (shouldEmit(source, versions.at(-1), now)) versions.push(now);
    });
    return versions.slice(1).map((t, i) => (t - versions[i]!) / 1000);
  }

  it('with check_every equal to interval, a check a few ms early waits for the next: 10 s or 20 s', () => {
    // The check at 20 s runs 3 ms earlier after its start than the one at 10 s did: 9.997 s is not 10 s.
    expect(versionGaps(10, 10, [40, 45, 42, 50, 48])).toEqual([10.005, 20.005]);
  });

  it('with check_every well below interval, a version every interval plus under one check_every', () => {
    const gaps = versionGaps(
      10,
      1,
      Array.from({ length: 60 }, (_, i) => [40, 35, 42, 38][i % 4]!),
    );
    expect(gaps.length).toBeGreaterThanOrEqual(5);
    for (const gap of gaps) {
      expect(gap).toBeGreaterThanOrEqual(10);
      // Plus the spread of the checks' run delays (7 ms here).
      expect(gap).toBeLessThanOrEqual(11.007);
    }
  });
});
