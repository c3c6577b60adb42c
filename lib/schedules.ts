// The per-step schedules of a run (design §2 momentum, §6 learning rate), computed natively
// (native/core/schedules.cc) so that JS and the training step agree to the last bit.
import { binding } from './native';

/**
 * EMA momentum at optimizer step `step` of `totalSteps`:
 * `m(t) = final − (final − base)·(cos(π·t/T) + 1)/2`, so m(0) = base and m(T) = final; constant
 * when base === final; steps past T stay at `final`.
 * @throws RangeError for totalSteps < 1, step < 0, non-integer steps, base/final outside [0, 1].
 */
export function momentumAt(step: number, totalSteps: number, base: number, final: number): number {
  return binding().momentumAt(step, totalSteps, base, final);
}

/**
 * Learning rate at optimizer step `step`: linear warmup over `warmupSteps` (step s < W gives
 * baseLr·(s+1)/W), then cosine from baseLr to finalLr at `totalSteps`.
 * @throws RangeError for totalSteps < 1, warmupSteps outside [0, totalSteps], negative rates.
 */
export function lrAt(step: number, totalSteps: number, warmupSteps: number, baseLr: number, finalLr = 0): number {
  return binding().lrAt(step, totalSteps, warmupSteps, baseLr, finalLr);
}
