// Resampling tests for a handful of seeds: the sign-flip permutation test of a mean (exact over
// all 2^n sign patterns; under "no effect" each seed's value is as likely negated), a percentile
// bootstrap interval, and a permutation test of a correlation. A seeded generator keeps every
// figure reproducible.
import { mean } from './stats';

/** mulberry32: a small seeded PRNG in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface SignFlip {
  n: number;
  mean: number;
  /** One-sided p of "mean > 0": the share of sign patterns whose mean is >= the observed one. */
  pGreater: number;
  /** One-sided p of "mean < 0". */
  pLess: number;
}

/** Exact sign-flip test over all 2^n patterns (n <= 20). */
export function signFlipTest(xs: readonly number[]): SignFlip {
  const n = xs.length;
  if (n === 0) throw new RangeError('signFlipTest: no values');
  if (n > 20) throw new RangeError(`signFlipTest: exact enumeration up to 20 values, got ${n}`);
  if (xs.some((x) => !Number.isFinite(x))) throw new RangeError('signFlipTest: non-finite value');
  const observed = mean(xs);
  const eps = 1e-12 * Math.max(1, ...xs.map(Math.abs));
  let ge = 0;
  let le = 0;
  const total = 2 ** n;
  for (let mask = 0; mask < total; mask++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += mask & (1 << i) ? -xs[i] : xs[i];
    const m = s / n;
    if (m >= observed - eps) ge++;
    if (m <= observed + eps) le++;
  }
  return { n, mean: observed, pGreater: ge / total, pLess: le / total };
}

/**
 * Percentile bootstrap interval at `level` of `stat` over resamples (with replacement) of
 * `items`; resamples whose statistic is not finite are skipped.
 */
export function bootstrapInterval<T>(items: readonly T[], stat: (sample: readonly T[]) => number, level = 0.9, resamples = 4000, seed = 1): [number, number] {
  if (items.length < 2) return [NaN, NaN];
  const rand = seededRandom(seed);
  const values: number[] = [];
  for (let r = 0; r < resamples; r++) {
    const sample = items.map(() => items[Math.floor(rand() * items.length)]);
    const v = stat(sample);
    if (Number.isFinite(v)) values.push(v);
  }
  if (values.length === 0) return [NaN, NaN];
  values.sort((a, b) => a - b);
  const at = (q: number) => values[Math.min(values.length - 1, Math.max(0, Math.floor(q * values.length)))];
  return [at((1 - level) / 2), at((1 + level) / 2)];
}

/**
 * Permutation test of a correlation: the share of `permutations` random pairings of x with a
 * shuffled y whose correlation is >= (pGreater) or <= (pLess) the observed one, counting the
 * observed pairing itself (so p >= 1 / (permutations + 1)).
 */
export function permutationCorrelationTest(
  x: readonly number[],
  y: readonly number[],
  corr: (x: readonly number[], y: readonly number[]) => number,
  permutations = 4000,
  seed = 1,
): { r: number; pGreater: number; pLess: number } {
  const r = corr(x, y);
  if (!Number.isFinite(r)) return { r, pGreater: NaN, pLess: NaN };
  const rand = seededRandom(seed);
  const yy = [...y];
  let ge = 1;
  let le = 1;
  for (let p = 0; p < permutations; p++) {
    for (let i = yy.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [yy[i], yy[j]] = [yy[j], yy[i]];
    }
    const v = corr(x, yy);
    if (v >= r - 1e-12) ge++;
    if (v <= r + 1e-12) le++;
  }
  return { r, pGreater: ge / (permutations + 1), pLess: le / (permutations + 1) };
}
