// Report inputs shared by the report tests: a training history and an evaluation result.
import type { RepresentationResult } from '../../lib/eval/representation';
import type { StepRecord } from '../../lib/train/pretrain';

export const history: StepRecord[] = Array.from({ length: 50 }, (_, i) => ({
  step: i + 1,
  loss: 5 - Math.log1p(i) / 2,
  lr: 0.3 * Math.min(1, (i + 1) / 5),
  momentum: 1 - 0.01 * (Math.cos((Math.PI * i) / 50) + 1) / 2,
}));

export const evaluation: RepresentationResult = {
  learned: { featureDim: 128, knn: { top1: 0.81, top5: 0.99 }, linear: { trainAccuracy: 0.9, testAccuracy: 0.84, trainLoss: 0.3, evaluations: 100 }, ms: { features: 1, knn: 1, linear: 1 } },
  pixels: { featureDim: 784, knn: { top1: 0.79, top5: 0.98 }, linear: { trainAccuracy: 0.88, testAccuracy: 0.83, trainLoss: 0.4, evaluations: 100 }, ms: { features: 1, knn: 1, linear: 1 } },
  trainSize: 10000,
  testSize: 5000,
  k: 200,
  temperature: 0.1,
};
