import { incompleteBeta, mean, median, pairedDifference, sampleStd, studentTCdf, studentTQuantile } from '../../../lib/analysis/stats';

// Closed forms of Student's t cdf for one and two degrees of freedom.
const cdf1 = (t: number) => 0.5 + Math.atan(t) / Math.PI;
const cdf2 = (t: number) => 0.5 + t / (2 * Math.sqrt(2 + t * t));

describe('Student t', () => {
  it('matches the closed forms for df = 1 and df = 2', () => {
    for (const t of [-30, -4.2, -1, -0.3, 0, 0.01, 0.7, 2.92, 12, 1e3]) {
      expect(studentTCdf(t, 1)).toBeCloseTo(cdf1(t), 12);
      expect(studentTCdf(t, 2)).toBeCloseTo(cdf2(t), 12);
    }
  });

  it('matches tabulated quantiles', () => {
    // Textbook table values (six significant digits).
    expect(studentTQuantile(0.95, 2)).toBeCloseTo(2.919986, 5);
    expect(studentTQuantile(0.975, 10)).toBeCloseTo(2.228139, 5);
    expect(studentTQuantile(0.995, 30)).toBeCloseTo(2.749996, 5);
    expect(studentTQuantile(0.05, 4)).toBeCloseTo(-2.131847, 5);
  });

  it('quantile inverts the cdf', () => {
    for (const df of [1, 2, 3, 7.5, 40]) {
      for (const p of [0.001, 0.2, 0.5, 0.9, 0.999]) expect(studentTCdf(studentTQuantile(p, df), df)).toBeCloseTo(p, 9);
    }
  });

  it('rejects bad arguments', () => {
    expect(() => studentTCdf(1, 0)).toThrow(/df must be > 0/);
    expect(() => studentTQuantile(1, 3)).toThrow(/p must be in \(0, 1\)/);
    expect(() => incompleteBeta(1.5, 1, 1)).toThrow(/x must be in \[0, 1\]/);
    expect(studentTCdf(NaN, 3)).toBeNaN();
  });
});

describe('incompleteBeta', () => {
  it('matches I_x(a, 1) = x^a and I_x(1, b) = 1 − (1 − x)^b', () => {
    for (const x of [0, 0.05, 0.3, 0.5, 0.77, 1]) {
      expect(incompleteBeta(x, 3.5, 1)).toBeCloseTo(x ** 3.5, 12);
      expect(incompleteBeta(x, 1, 2.25)).toBeCloseTo(1 - (1 - x) ** 2.25, 12);
    }
  });
});

describe('mean and sampleStd', () => {
  it('are the textbook estimators', () => {
    expect(mean([1, 2, 3, 6])).toBe(3);
    expect(sampleStd([1, 2, 3, 6])).toBeCloseTo(Math.sqrt(14 / 3), 12);
    expect(mean([])).toBeNaN();
    expect(sampleStd([4])).toBeNaN();
  });
});

describe('pairedDifference', () => {
  it('is the paired t-test', () => {
    // d = [1, 2, 3]: mean 2, sd 1, t = 2·√3 on 2 df.
    const p = pairedDifference([1, 2.5, 3], [0, 0.5, 0]);
    expect(p.n).toBe(3);
    expect(p.mean).toBeCloseTo(2, 12);
    expect(p.std).toBeCloseTo(1, 12);
    expect(p.positive).toBe(3);
    expect(p.pGreater()).toBeCloseTo(1 - cdf2(2 * Math.sqrt(3)), 12);
    expect(p.pLess()).toBeCloseTo(cdf2(2 * Math.sqrt(3)), 12);
    // Margins shift the null: "a − b > −1" has t = (2 + 1)·√3.
    expect(p.pGreater(1)).toBeCloseTo(1 - cdf2(3 * Math.sqrt(3)), 12);
    expect(p.pLess(2.5)).toBeCloseTo(cdf2(-0.5 * Math.sqrt(3)), 12);
    const [lo, hi] = p.interval(0.9);
    const h = 2.919986 / Math.sqrt(3);
    expect(lo).toBeCloseTo(2 - h, 5);
    expect(hi).toBeCloseTo(2 + h, 5);
  });

  it('handles one pair and zero spread without inventing confidence', () => {
    const one = pairedDifference([2], [1]);
    expect(one.pGreater()).toBe(0.5);
    expect(one.interval()).toEqual([NaN, NaN]);
    const flat = pairedDifference([2, 3], [1, 2]);
    expect(flat.pGreater()).toBe(0);
    expect(flat.pLess()).toBe(1);
    expect(flat.pLess(1)).toBe(0.5);
  });

  it('rejects mismatched, empty and non-finite input', () => {
    expect(() => pairedDifference([1, 2], [1])).toThrow(/2 values against 1/);
    expect(() => pairedDifference([], [])).toThrow(/no pairs/);
    expect(() => pairedDifference([1, NaN], [1, 2])).toThrow(/non-finite/);
  });
});

test('median: odd and even counts, unsorted input left as it was, empty', () => {
  const xs = [3, 1, 2];
  expect(median(xs)).toBe(2);
  expect(xs).toEqual([3, 1, 2]);
  expect(median([4, 1, 3, 2])).toBe(2.5);
  expect(median([])).toBeNaN();
});
