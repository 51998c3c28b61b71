// resource.Quantity parsing (k8s.io/apimachinery/pkg/api/resource): "100m", "1.5", "2Gi", "1e3", "500M".
const SUFFIX: Record<string, number> = {
  '': 1,
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

const QUANTITY = /^([+-]?[0-9.]+)(?:([eE][+-]?[0-9]+)|(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?)$/;

/** The quantity as a plain number (cores for cpu, bytes for memory), or undefined if it does not parse. */
export function parseQuantity(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  const m = QUANTITY.exec(value.trim());
  if (!m) return undefined;
  const [, num, exp, suffix] = m;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)$/.test(num!)) return undefined;
  const n = Number(num);
  if (exp) return n * 10 ** Number(exp.slice(1));
  return n * SUFFIX[suffix ?? '']!;
}
