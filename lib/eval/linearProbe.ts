// Linear probe (design §7): multinomial logistic regression on frozen features (L-BFGS).
import { binding } from '../native';
import { Tensor } from '../tensor';

export interface LinearProbeOptions {
  /** L-BFGS iterations (default 100). */
  maxIterations?: number;
  /** L2 penalty on the weights (default 1e-4). */
  weightDecay?: number;
  numClasses?: number;
  /** z-score the features with train statistics first (default true). */
  standardize?: boolean;
}

export interface LinearProbeResult {
  trainAccuracy: number;
  testAccuracy: number;
  trainLoss: number;
  /** Loss/gradient evaluations L-BFGS made (line-search evaluations included). */
  evaluations: number;
}

export async function linearProbe(trainFeatures: Tensor, trainLabels: Tensor, testFeatures: Tensor, testLabels: Tensor, options: LinearProbeOptions = {}): Promise<LinearProbeResult> {
  const args = [trainFeatures, trainLabels, testFeatures, testLabels];
  if (!args.every((a) => a instanceof Tensor)) throw new TypeError('linearProbe: features and labels must be Tensors');
  return binding().linearProbe(trainFeatures.handle, trainLabels.handle, testFeatures.handle, testLabels.handle, options);
}
