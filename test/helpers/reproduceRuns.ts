// A made-up reproduce run record for the scripts/reproduce tests: every field set, any overridden.
import type { RunResult } from '../../scripts/reproduce/variants';

export function fakeRun(variant: string, seed: number, knn: number, over: Partial<RunResult> = {}): RunResult {
  return {
    variant,
    seed,
    mode: 'full',
    steps: 300,
    knnTop1: knn,
    linearTop1: knn + 0.05,
    pixelsKnnTop1: null,
    msPerStep: 400,
    keyBranchMsPerStep: variant === 'simclr-full' ? 130 : 1,
    forwardMsPerStep: 130,
    finalLoss: 3,
    grad: [],
    cvOverTraining: [],
    resumed: false,
    ...over,
  };
}
