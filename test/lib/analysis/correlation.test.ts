import { pearson, ranks, spearman } from '../../../lib/analysis/correlation';

describe('correlation', () => {
  test('ranks share the mean rank of ties', () => {
    expect(ranks([10, 30, 20, 30])).toEqual([1, 3.5, 2, 3.5]);
    expect(ranks([])).toEqual([]);
  });

  test('pearson by hand', () => {
    // x = 1,2,3, y = 1,3,2: means 2, 2; sxy = (−1)(−1) + 0 + (1)(0) = 1; sxx = syy = 2: r = 0.5.
    expect(pearson([1, 2, 3], [1, 3, 2])).toBeCloseTo(0.5, 12);
    expect(pearson([1, 2, 3], [6, 4, 2])).toBeCloseTo(-1, 12);
    expect(pearson([1, 2, 3], [5, 5, 5])).toBeNaN();
    expect(pearson([1], [2])).toBeNaN();
    expect(() => pearson([1, 2], [1])).toThrow(/2 values against 1/);
  });

  test('spearman is pearson on ranks', () => {
    // Monotone but not linear: ρ = 1 while r < 1.
    expect(spearman([1, 2, 3, 4], [1, 10, 100, 1000])).toBeCloseTo(1, 12);
    expect(pearson([1, 2, 3, 4], [1, 10, 100, 1000])).toBeLessThan(0.9);
    // Ranks of y: 1, 3, 2, 4 against 1..4: d² = 0 + 1 + 1 + 0 = 2, ρ = 1 − 6·2 / (4·15) = 0.8.
    expect(spearman([0, 1, 2, 3], [0.1, 0.5, 0.2, 0.9])).toBeCloseTo(0.8, 12);
    expect(spearman([0, 1, 2], [1, NaN, 2])).toBeNaN();
  });
});
