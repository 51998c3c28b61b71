// Time formatting. Concourse event times are Unix seconds; the API's summaries may carry seconds or
// milliseconds, so every timestamp goes through toMillis, which tells them apart by magnitude
// (1e11 seconds is the year 5138, 1e11 milliseconds is 1973).

export function toMillis(t: number): number {
  return t < 1e11 ? t * 1000 : t;
}

const pad2 = (n: number): string => String(n).padStart(2, '0');

/** HH:MM:SS in local time. */
export function formatClock(ms: number): string {
  const d = new Date(ms);
  return `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

/** fly's table time format, local time: 2006-01-02@15:04:05-0700. */
export function formatDateTime(ms: number): string {
  const d = new Date(ms);
  const offset = -d.getTimezoneOffset();
  const sign = offset < 0 ? '-' : '+';
  const abs = Math.abs(offset);
  return (
    `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}` +
    `@${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}` +
    `${sign}${pad2(Math.floor(abs / 60))}${pad2(abs % 60)}`
  );
}

/** Go-style duration truncated to seconds: 0s, 45s, 1m5s, 2h0m3s. */
export function formatDuration(ms: number): string {
  let s = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}

/** Relative age: 3s ago, 2m ago, 5h ago, 4d ago. */
export function formatAge(nowMs: number, thenMs: number): string {
  const s = Math.max(0, Math.floor((nowMs - thenMs) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses Go-style durations such as 5m, 30s, 1m30s, 500ms, 1h. Returns undefined when invalid. */
export function parseDuration(text: string): number | undefined {
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let pos = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    total += Number(m[1]) * (UNIT_MS[m[2] ?? ''] ?? 0);
    pos = re.lastIndex;
  }
  if (text === '' || pos !== text.length) return undefined;
  return total;
}

const LIFETIME_UNITS_S = { m: 60, h: 3600, d: 86_400 } as const;

/** A token's lifetime, `90d`, `12h` or `30m`, in seconds; undefined when not in that form. */
export function parseLifetime(text: string): number | undefined {
  const m = /^(\d+)([mhd])$/.exec(text);
  return m ? Number(m[1]) * LIFETIME_UNITS_S[m[2] as keyof typeof LIFETIME_UNITS_S] : undefined;
}

/**
 * fly's --since/--until input, `yyyy-mm-dd HH:mm:ss` in local time, as Unix milliseconds; undefined
 * when the text is not in that form or names no real time (2026-02-30).
 */
export function parseLocalDateTime(text: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/.exec(text.trim());
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const d = new Date(year, month - 1, day, hour, minute, second);
  const same =
    d.getFullYear() === year &&
    d.getMonth() === month - 1 &&
    d.getDate() === day &&
    d.getHours() === hour &&
    d.getMinutes() === minute;
  return same ? d.getTime() : undefined;
}
