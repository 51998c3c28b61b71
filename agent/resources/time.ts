// The built-in `time` type: Concourse's concourse/time-resource. check emits the current time as a
// new version once `interval` has passed since the given version (or once per window without an
// interval), only inside the `start`/`stop` window and on the listed `days`, all read in `location`
// (an IANA zone, default UTC); get writes the request and the time; put emits the current time.
// Zones come from Intl, so no time-zone data ships with the agent.

import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { type BuiltinContext, ResourceFailure } from './builtin.js';
import { describe, isPlainObject, parseGoDuration } from './protocol.js';

export interface TimeSource {
  /** Milliseconds; undefined: once per window. */
  interval: number | undefined;
  /** Minutes after midnight in `location`; both set or neither. */
  start: number | undefined;
  stop: number | undefined;
  /** 0 = Sunday ... 6 = Saturday; empty: every day. */
  days: number[];
  location: string;
  initialVersion: boolean;
}

export async function time(ctx: BuiltinContext): Promise<unknown> {
  const request = JSON.parse(ctx.requestJson) as { source?: unknown; version?: unknown };
  const source = parseTimeSource(request.source);
  const now = ctx.now().getTime();
  const given = givenVersion(request.version);
  switch (ctx.kind) {
    case 'check': {
      if (given === undefined && source.initialVersion) return [{ time: formatTime(now, source.location) }];
      const versions: unknown[] = given === undefined ? [] : [request.version];
      if (shouldEmit(source, given?.at, now)) versions.push({ time: formatTime(now, source.location) });
      return versions;
    }
    case 'get': {
      const version = given
        ? (request.version as Record<string, string>)
        : { time: formatTime(now, source.location) };
      await writeFile(path.join(ctx.dir, 'input'), ctx.requestJson);
      await writeFile(path.join(ctx.dir, 'timestamp'), `${version.time}\n`);
      return { version, metadata: [] };
    }
    case 'put':
      return { version: { time: formatTime(now, source.location) }, metadata: [] };
  }
}

/** The time of the version a request names; undefined for none. */
function givenVersion(version: unknown): { at: number } | undefined {
  if (version === null || version === undefined) return undefined;
  if (!isPlainObject(version) || typeof version.time !== 'string')
    throw new ResourceFailure(`invalid version ${JSON.stringify(version)}: want {"time": "<RFC3339 time>"}`);
  const at = parseRfc3339(version.time);
  if (at === undefined)
    throw new ResourceFailure(`invalid version time ${JSON.stringify(version.time)}: not RFC3339`);
  return { at };
}

/** Concourse's TimeLord.Check: is a new version due at `now`, after the version at `previous`? */
export function shouldEmit(source: TimeSource, previous: number | undefined, now: number): boolean {
  if (!daysMatch(source, now)) return false;
  const [start, stop] = latestRangeBefore(source, now);
  if (now < start || now >= stop) return false;
  if (previous === undefined) return true;
  if (source.interval !== undefined) return now - previous >= source.interval;
  return previous < start;
}

function daysMatch(source: TimeSource, at: number): boolean {
  return source.days.length === 0 || source.days.includes(partsIn(at, source.location).weekday);
}

/** The latest window that starts at or before `ref` (a window without start/stop is a whole day). */
function latestRangeBefore(source: TimeSource, ref: number): [number, number] {
  const startMin = source.start ?? 0;
  const stopMin = source.stop ?? 0;
  const p = partsIn(ref, source.location);
  let start = zonedTime(source.location, p.year, p.month, p.day, startMin);
  if (start > ref) start = zonedTime(source.location, p.year, p.month, p.day - 1, startMin);
  const s = partsIn(start, source.location);
  let stop = zonedTime(source.location, s.year, s.month, s.day, stopMin);
  if (stop <= start) stop = zonedTime(source.location, s.year, s.month, s.day + 1, stopMin);
  return [start, stop];
}

// --- source ---

const WEEKDAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];

export function parseTimeSource(raw: unknown): TimeSource {
  if (raw !== null && raw !== undefined && !isPlainObject(raw))
    throw new ResourceFailure(`source must be an object, not ${describe(raw)}`);
  const src: Record<string, unknown> = isPlainObject(raw) ? raw : {};
  const str = (key: string): string | undefined => {
    const v = src[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string')
      throw new ResourceFailure(`source.${key} must be a string, not ${describe(v)}`);
    return v;
  };
  let interval: number | undefined;
  const intervalText = str('interval');
  if (intervalText !== undefined) {
    interval = parseGoDuration(intervalText);
    if (interval === undefined || interval <= 0)
      throw new ResourceFailure(
        `source.interval ${JSON.stringify(intervalText)}: want a duration like 60s, 90m or 1h`,
      );
  }
  const startText = str('start');
  const stopText = str('stop');
  if ((startText === undefined) !== (stopText === undefined))
    throw new ResourceFailure(
      startText === undefined
        ? "must configure 'start' if 'stop' is set"
        : "must configure 'stop' if 'start' is set",
    );
  const location = str('location') || 'UTC';
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: location });
  } catch {
    throw new ResourceFailure(`source.location ${JSON.stringify(location)}: unknown time zone`);
  }
  const daysRaw = src.days ?? [];
  if (!Array.isArray(daysRaw))
    throw new ResourceFailure(`source.days must be a list of weekdays, not ${describe(daysRaw)}`);
  const days = daysRaw.map((d) => {
    const i =
      typeof d === 'string'
        ? WEEKDAYS.findIndex((w) => w === d.toLowerCase() || w.slice(0, 3) === d.toLowerCase())
        : -1;
    if (i < 0) throw new ResourceFailure(`source.days: unknown weekday ${JSON.stringify(d)}`);
    return i;
  });
  const initial = src.initial_version ?? false;
  if (typeof initial !== 'boolean')
    throw new ResourceFailure(`source.initial_version must be true or false, not ${describe(initial)}`);
  return {
    interval,
    start: startText === undefined ? undefined : parseTimeOfDay(startText, 'start'),
    stop: stopText === undefined ? undefined : parseTimeOfDay(stopText, 'stop'),
    days,
    location,
    initialVersion: initial,
  };
}

/**
 * "3:04 PM", "3PM", "3 PM", "15:04" or "1504", optionally followed by an offset like "-0700"
 * (deprecated in favour of `location`: the time is then moved to UTC). Minutes after midnight.
 */
export function parseTimeOfDay(text: string, key: string): number {
  const [, clock = '', sign, offH, offM] = /^(.*?)(?: ([+-])(\d{2})(\d{2}))?$/.exec(text.trim()) ?? [];
  let minutes: number | undefined;
  const twelve = /^(\d{1,2})(?::(\d{2}))? ?([AaPp][Mm])$/.exec(clock);
  const day = /^(\d{1,2}):(\d{2})$/.exec(clock) ?? /^(\d{2})(\d{2})$/.exec(clock);
  if (twelve) {
    const h = Number(twelve[1]);
    const min = Number(twelve[2] ?? 0);
    const pm = twelve[3]?.toUpperCase() === 'PM';
    if (h >= 1 && h <= 12 && min < 60) minutes = ((h % 12) + (pm ? 12 : 0)) * 60 + min;
  } else if (day) {
    const h = Number(day[1]);
    const min = Number(day[2]);
    if (h < 24 && min < 60) minutes = h * 60 + min;
  }
  if (minutes === undefined)
    throw new ResourceFailure(
      `source.${key} ${JSON.stringify(text)}: invalid time format, must be one of: 3:04 PM, 3PM, 3 PM, 15:04, 1504 (optionally followed by an offset like -0700)`,
    );
  if (sign) {
    const offset = (Number(offH) * 60 + Number(offM)) * (sign === '-' ? -1 : 1);
    minutes = (((minutes - offset) % 1440) + 1440) % 1440;
  }
  return minutes;
}

// --- zones, through Intl ---

interface ZonedParts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  weekday: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function partsIn(at: number, zone: string): ZonedParts {
  let fmt = formatters.get(zone);
  if (!fmt) {
    fmt = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      weekday: 'short',
    });
    formatters.set(zone, fmt);
  }
  const get: Record<string, string> = {};
  for (const part of fmt.formatToParts(new Date(at))) get[part.type] = part.value;
  return {
    year: Number(get.year),
    month: Number(get.month),
    day: Number(get.day),
    hour: Number(get.hour),
    minute: Number(get.minute),
    second: Number(get.second),
    weekday: ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'].indexOf(get.weekday ?? ''),
  };
}

/** The zone's offset from UTC at `at`, in milliseconds. */
function offsetAt(at: number, zone: string): number {
  const p = partsIn(at, zone);
  const wall = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return wall - (at - (((at % 1000) + 1000) % 1000));
}

/** The instant at wall-clock `minutes` after midnight on year-month-day in `zone` (day may overflow). */
function zonedTime(zone: string, year: number, month: number, day: number, minutes: number): number {
  const wall = Date.UTC(year, month - 1, day, Math.floor(minutes / 60), minutes % 60);
  const first = offsetAt(wall, zone);
  const guess = wall - first;
  const second = offsetAt(guess, zone);
  return second === first ? guess : wall - second;
}

/** RFC 3339 in `zone`'s offset ("Z" for UTC), milliseconds without trailing zeros, as Go prints times. */
export function formatTime(at: number, zone: string): string {
  const p = partsIn(at, zone);
  const offsetMin = Math.round(offsetAt(at, zone) / 60_000);
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  const ms = ((at % 1000) + 1000) % 1000;
  const frac = ms === 0 ? '' : `.${pad(ms, 3).replace(/0+$/, '')}`;
  const sign = offsetMin < 0 ? '-' : '+';
  const abs = Math.abs(offsetMin);
  const zoneText = offsetMin === 0 ? 'Z' : `${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
  return `${pad(p.year, 4)}-${pad(p.month)}-${pad(p.day)}T${pad(p.hour)}:${pad(p.minute)}:${pad(p.second)}${frac}${zoneText}`;
}

/** Milliseconds since the epoch of an RFC 3339 time (fractions beyond milliseconds are dropped). */
export function parseRfc3339(text: string): number | undefined {
  const m =
    /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/.exec(
      text,
    );
  if (!m) return undefined;
  const ms = Number((m[7] ?? '').padEnd(3, '0').slice(0, 3));
  const wall = Date.UTC(
    Number(m[1]),
    Number(m[2]) - 1,
    Number(m[3]),
    Number(m[4]),
    Number(m[5]),
    Number(m[6]),
    ms,
  );
  const offset = m[8] ? 0 : (Number(m[10]) * 60 + Number(m[11])) * (m[9] === '-' ? -1 : 1);
  return wall - offset * 60_000;
}
