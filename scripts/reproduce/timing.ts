// Per-step timings of a reproduce run.
import { mean, median } from '../../lib/analysis/stats';

/**
 * Mean of a per-step timing over the steps that were not paused: a step longer than 10x the median
 * step spanned a suspension (SIGSTOP, a laptop lid), not work, and would dominate the mean.
 */
export function stepMean(values: readonly number[], totals: readonly number[]): number {
  if (totals.length === 0) return NaN;
  const limit = 10 * median(totals);
  const kept = values.filter((_, i) => totals[i] <= limit);
  return kept.length ? mean(kept) : NaN;
}
