// Go's time.ParseDuration syntax ("1h30m", "10s", "1.5m", "500ms"), because Concourse pipelines use it for
// `timeout:` and users paste values from existing pipelines.

export type DurationResult = { ok: true; ms: number } | { ok: false; error: string };

const UNIT_MS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  '\u00b5s': 1e-3, // µ (micro sign), accepted by Go
  '\u03bcs': 1e-3, // μ (Greek mu), accepted by Go
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

const UNITS_HINT = 'valid units are "ns", "us", "ms", "s", "m", "h"';

/**
 * Parses a Go-style duration into milliseconds (fractional below 1ms: "1500us" is 1.5). Like Go, a sign is
 * allowed, a bare "0" needs no unit, and spaces are not allowed.
 */
export function parseDuration(text: string): DurationResult {
  const fail = (why: string): DurationResult => ({ ok: false, error: `invalid duration "${text}": ${why}` });
  if (text === '') return fail('empty');
  if (/\s/.test(text)) return fail('spaces are not allowed (write "1h30m", not "1h 30m")');
  let rest = text;
  let sign = 1;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    if (rest.startsWith('-')) sign = -1;
    rest = rest.slice(1);
  }
  if (rest === '0') return { ok: true, ms: 0 };
  if (rest === '') return fail('expected a number');
  let total = 0;
  while (rest !== '') {
    const num = /^(\d*)(?:\.(\d*))?/.exec(rest)?.[0] ?? '';
    if (num === '' || num === '.') return fail(`expected a number at "${rest}"`);
    rest = rest.slice(num.length);
    const unit = /^[^\d.]*/.exec(rest)?.[0] ?? '';
    rest = rest.slice(unit.length);
    if (unit === '') return fail(`missing unit after "${num}" (${UNITS_HINT}; e.g. "${num}s")`);
    const scale = UNIT_MS[unit];
    if (scale === undefined) return fail(`unknown unit "${unit}" (${UNITS_HINT})`);
    total += Number(num) * scale;
  }
  // Go rejects durations beyond ~292 years (int64 nanoseconds); beyond safe integers we would lose precision.
  if (total > Number.MAX_SAFE_INTEGER) return fail('too large');
  return { ok: true, ms: sign * total };
}
