// Correlation coefficients for the gradient and stability claims: Pearson's r on values and
// Spearman's ρ (Pearson's r on ranks, ties sharing their mean rank), e.g. between a block's
// depth and a gradient statistic, or between a fluctuation reduction and an accuracy gain.
import { mean } from './stats';

/** Ranks 1..n; tied values share the mean of their ranks. */
export function ranks(xs: readonly number[]): number[] {
  const order = xs.map((x, i) => [x, i] as const).sort((p, q) => p[0] - q[0]);
  const out = new Array<number>(xs.length);
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && order[j + 1][0] === order[i][0]) j++;
    const r = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) out[order[k][1]] = r;
    i = j + 1;
  }
  return out;
}

/** Pearson's r; NaN for fewer than two pairs or a constant side. */
export function pearson(x: readonly number[], y: readonly number[]): number {
  if (x.length !== y.length) throw new RangeError(`pearson: ${x.length} values against ${y.length}`);
  if (x.length < 2 || [...x, ...y].some((v) => !Number.isFinite(v))) return NaN;
  const mx = mean(x);
  const my = mean(y);
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < x.length; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) ** 2;
    syy += (y[i] - my) ** 2;
  }
  return sxx > 0 && syy > 0 ? sxy / Math.sqrt(sxx * syy) : NaN;
}

/** Spearman's rank correlation ρ. */
export function spearman(x: readonly number[], y: readonly number[]): number {
  if (x.length !== y.length) throw new RangeError(`spearman: ${x.length} values against ${y.length}`);
  if ([...x, ...y].some((v) => !Number.isFinite(v))) return NaN;
  return pearson(ranks(x), ranks(y));
}
