// Percentiles, units and the results table. Everything here is pure so each measurement module only
// collects raw samples and hands them over.

/** 1 MB = 2^20 bytes throughout the benchmark (memory from /proc is in KiB, so this keeps units one). */
export const MB = 1024 * 1024;

/** Nearest-rank percentile (p in 0..100) of unsorted samples; NaN when there are none. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] ?? NaN;
}

export interface Summary {
  n: number;
  p50: number;
  p99: number;
  max: number;
}

export function summarize(samples: readonly number[]): Summary {
  return {
    n: samples.length,
    p50: percentile(samples, 50),
    p99: percentile(samples, 99),
    max: samples.length ? Math.max(...samples) : NaN,
  };
}

/** Three significant digits for small values, integers for large ones. */
export function fmt(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  if (Math.abs(value) >= 100) return Math.round(value).toString();
  return Number(value.toPrecision(3)).toString();
}

export interface Row {
  metric: string;
  value: string;
  floor: string;
  ratio: string;
  target: string;
  /** The hub's store behind the figure (bench/support.ts STORE_LABELS); '' where no hub is involved. */
  store?: string;
  /** undefined: informational row without a target. */
  pass: boolean | undefined;
  /** A miss here is a correctness failure (shown as FAIL), not a slow figure. */
  correctness?: boolean;
}

/** The floor ratio, formatted ("2.0x"), or "" when there is no floor. */
export function ratio(value: number, floor: number | undefined): string {
  if (floor === undefined || !Number.isFinite(value) || !Number.isFinite(floor) || floor === 0) return '';
  return `${(value / floor).toFixed(1)}x`;
}

export function renderTable(rows: readonly Row[]): string {
  const header: Row = {
    metric: 'metric',
    value: 'value',
    floor: 'floor',
    ratio: 'ratio',
    target: 'target',
    store: 'store',
    pass: undefined,
  };
  const verdict = (r: Row) => {
    if (r === header) return 'result';
    if (r.pass === undefined) return '';
    if (r.pass) return 'PASS';
    return r.correctness ? 'FAIL' : 'MISS';
  };
  const cells = [header, ...rows].map((r) => [
    r.metric,
    r.value,
    r.floor,
    r.ratio,
    r.target,
    r.store ?? '',
    verdict(r),
  ]);
  const widths = cells.reduce<number[]>((w, c) => c.map((cell, i) => Math.max(w[i] ?? 0, cell.length)), []);
  return cells
    .map((c) =>
      c
        .map((cell, i) => cell.padEnd((widths[i] ?? 0) + 2))
        .join('')
        .trimEnd(),
    )
    .join('\n');
}
