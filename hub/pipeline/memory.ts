// Memory sizes as Concourse's `container_limits.memory` accepts them: a byte count, or a count with a
// binary K/M/G suffix ("512MB", "1g", "1GB" all mean powers of 1024, as in Concourse).

export type MemoryResult = { ok: true; bytes: number } | { ok: false; error: string };

const SCALE: Readonly<Record<string, number>> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

export function parseMemory(value: number | string): MemoryResult {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) {
      return { ok: false, error: `invalid memory limit ${value}: must be a whole number of bytes` };
    }
    return { ok: true, bytes: value };
  }
  const m = /^(\d+)\s*([kmg]?)b?$/i.exec(value.trim());
  const scale = m ? SCALE[(m[2] ?? '').toLowerCase()] : undefined;
  if (!m || scale === undefined) {
    return {
      ok: false,
      error: `invalid memory limit "${value}": expected a number of bytes, optionally with a K, M or G suffix (e.g. "512MB", "1GB")`,
    };
  }
  const bytes = Number(m[1]) * scale;
  if (!Number.isSafeInteger(bytes)) return { ok: false, error: `invalid memory limit "${value}": too large` };
  return { ok: true, bytes };
}
