// Small-sample statistics for comparing training configurations run under the same seeds.
// Runs that share a seed share initialisation and data order, so configurations are compared
// per seed (paired) and the seed-to-seed spread of the difference decides the confidence:
// a one-sided paired t-test, which is what a handful of seeds can support honestly.

export function mean(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Sample standard deviation (n − 1); NaN below two values. */
export function sampleStd(xs: readonly number[]): number {
  if (xs.length < 2) return NaN;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1));
}

// log Γ(x) for x > 0 (Lanczos, g = 7, nine terms: ~1e-15 relative).
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905,
  -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];
function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const z = x - 1;
  let a = LANCZOS[0];
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += LANCZOS[i] / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

// Continued fraction of the incomplete beta function (modified Lentz).
function betaContinuedFraction(a: number, b: number, x: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 300; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-15) break;
  }
  return h;
}

/** Regularised incomplete beta I_x(a, b). */
export function incompleteBeta(x: number, a: number, b: number): number {
  if (!(x >= 0 && x <= 1)) throw new RangeError(`incompleteBeta: x must be in [0, 1], got ${x}`);
  if (x === 0 || x === 1) return x;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  // The continued fraction converges fast for x < (a+1)/(a+b+2); use the symmetry otherwise.
  return x < (a + 1) / (a + b + 2) ? (front * betaContinuedFraction(a, b, x)) / a : 1 - (front * betaContinuedFraction(b, a, 1 - x)) / b;
}

/** P(T ≤ t) for Student's t with df degrees of freedom. */
export function studentTCdf(t: number, df: number): number {
  if (!(df > 0)) throw new RangeError(`studentTCdf: df must be > 0, got ${df}`);
  if (Number.isNaN(t)) return NaN;
  if (t === Infinity) return 1;
  if (t === -Infinity) return 0;
  const t2 = t * t;
  if (t2 < df) {
    // Near 0, df/(df+t²) rounds to 1; measure the centre mass with the complementary argument.
    const centre = 0.5 * incompleteBeta(t2 / (df + t2), 0.5, df / 2);
    return t > 0 ? 0.5 + centre : 0.5 - centre;
  }
  const tail = 0.5 * incompleteBeta(df / (df + t2), df / 2, 0.5);
  return t > 0 ? 1 - tail : tail;
}

/** The t with P(T ≤ t) = p (bisection on the cdf; p in (0, 1)). */
export function studentTQuantile(p: number, df: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`studentTQuantile: p must be in (0, 1), got ${p}`);
  let lo = -1;
  let hi = 1;
  while (studentTCdf(lo, df) > p) lo *= 2;
  while (studentTCdf(hi, df) < p) hi *= 2;
  for (let i = 0; i < 200 && hi - lo > 1e-12 * Math.max(1, Math.abs(lo)); i++) {
    const mid = (lo + hi) / 2;
    if (studentTCdf(mid, df) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

export interface PairedDifference {
  /** Number of pairs. */
  n: number;
  /** Mean of a[i] − b[i]. */
  mean: number;
  /** Sample std of the differences (NaN for one pair). */
  std: number;
  /** Pairs with a[i] > b[i]. */
  positive: number;
  /** One-sided p-value of "a − b > −margin" (null hypothesis: mean difference ≤ −margin). */
  pGreater(margin?: number): number;
  /** One-sided p-value of "a − b < margin" (null hypothesis: mean difference ≥ margin). */
  pLess(margin?: number): number;
  /** Two-sided confidence interval of the mean difference at `level` (default 0.9). */
  interval(level?: number): [number, number];
}

/**
 * Paired comparison of a against b (same index = same seed). One-sided p-values come from the
 * paired t-test with n − 1 degrees of freedom. One pair cannot measure its own noise: every
 * p-value is then 0.5. Zero spread gives 0 or 1 (0.5 exactly at the boundary).
 */
export function pairedDifference(a: readonly number[], b: readonly number[]): PairedDifference {
  if (a.length !== b.length) throw new RangeError(`pairedDifference: ${a.length} values against ${b.length}`);
  if (a.length === 0) throw new RangeError('pairedDifference: no pairs');
  const d = a.map((x, i) => x - b[i]);
  if (d.some((x) => !Number.isFinite(x))) throw new RangeError('pairedDifference: non-finite value');
  const n = d.length;
  const m = mean(d);
  const s = sampleStd(d);
  const se = s / Math.sqrt(n);
  // p of observing a mean this large if the true difference were exactly `shift` (one-sided, upper).
  const pUpper = (shift: number): number => {
    if (n < 2) return 0.5;
    if (se === 0) return m > shift ? 0 : m === shift ? 0.5 : 1;
    return 1 - studentTCdf((m - shift) / se, n - 1);
  };
  return {
    n,
    mean: m,
    std: s,
    positive: d.filter((x) => x > 0).length,
    pGreater: (margin = 0) => pUpper(-margin),
    pLess: (margin = 0) => 1 - pUpper(margin),
    interval: (level = 0.9) => {
      if (n < 2) return [NaN, NaN];
      const h = studentTQuantile(0.5 + level / 2, n - 1) * se;
      return [m - h, m + h];
    },
  };
}
