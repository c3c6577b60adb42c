import { pearson } from '../../../lib/analysis/correlation';
import { bootstrapInterval, permutationCorrelationTest, seededRandom, signFlipTest } from '../../../lib/analysis/resampling';
import { mean } from '../../../lib/analysis/stats';

describe('resampling', () => {
  test('seededRandom is reproducible and in [0, 1)', () => {
    const a = seededRandom(7);
    const b = seededRandom(7);
    const xs = Array.from({ length: 1000 }, () => a());
    expect(xs).toEqual(Array.from({ length: 1000 }, () => b()));
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    expect(mean(xs)).toBeCloseTo(0.5, 1);
  });

  test('sign-flip p values by enumeration', () => {
    // [1, 2, 3]: of the 8 sign patterns only + + + reaches the observed mean 2.
    const t = signFlipTest([1, 2, 3]);
    expect(t.mean).toBe(2);
    expect(t.pGreater).toBe(1 / 8);
    expect(t.pLess).toBe(1);
    // Five positive seeds: 1/32, the smallest p five seeds can give.
    expect(signFlipTest([0.5, 0.2, 0.9, 0.4, 0.1]).pGreater).toBe(1 / 32);
    // [1, −1]: patterns' means 0, 1, −1, 0; ≥ 0 in 3 of 4.
    expect(signFlipTest([1, -1]).pGreater).toBe(3 / 4);
    expect(() => signFlipTest([])).toThrow(/no values/);
    expect(() => signFlipTest([1, NaN])).toThrow(/non-finite/);
  });

  test('bootstrap interval', () => {
    expect(bootstrapInterval([3, 3, 3], mean)).toEqual([3, 3]);
    expect(bootstrapInterval([1], mean)).toEqual([NaN, NaN]);
    const [lo, hi] = bootstrapInterval([1, 2, 3, 4, 5, 6, 7, 8], mean, 0.9, 4000, 3);
    // The bootstrap mean of 8 values spreads about std/sqrt(n) = 2.29/2.83 = 0.81 around 4.5.
    expect(lo).toBeGreaterThan(3);
    expect(lo).toBeLessThan(4);
    expect(hi).toBeGreaterThan(5);
    expect(hi).toBeLessThan(6);
    // Reproducible for a seed.
    expect(bootstrapInterval([1, 2, 3, 4, 5, 6, 7, 8], mean, 0.9, 4000, 3)).toEqual([lo, hi]);
  });

  test('permutation test of a correlation', () => {
    const x = [1, 2, 3, 4, 5, 6, 7];
    const up = permutationCorrelationTest(x, [1, 3, 2, 5, 4, 7, 6], pearson, 2000, 5);
    expect(up.r).toBeCloseTo(pearson(x, [1, 3, 2, 5, 4, 7, 6]), 12);
    // Few of the 5040 orderings correlate this well: p small, and never below 1 / (2000 + 1).
    expect(up.pGreater).toBeLessThan(0.02);
    expect(up.pGreater).toBeGreaterThanOrEqual(1 / 2001);
    expect(up.pLess).toBeGreaterThan(0.98);
    const constant = permutationCorrelationTest(x, [2, 2, 2, 2, 2, 2, 2], pearson);
    expect(constant.pGreater).toBeNaN();
  });
});
