// The evaluation step shared by `pretrain --eval` and `eval`: both splits of a dataset (seeded
// subsets), the learned features and the raw-pixel baseline.
import { openDataset } from '../data/open';
import { evaluateRepresentation, RepresentationResult } from '../eval/representation';
import type { SslModel } from '../model';
import type { Io, Values } from './command';
import { EVAL_SUBSET_DEFAULTS } from './options';

export async function evaluateSplits(model: SslModel, dataset: string, dataDir: string | undefined, v: Values, io: Io): Promise<RepresentationResult> {
  const seed = (v.seed as number | undefined) ?? 0;
  const trainSubset = (v.trainSubset as number | undefined) ?? EVAL_SUBSET_DEFAULTS.trainSubset;
  const testSubset = (v.testSubset as number | undefined) ?? EVAL_SUBSET_DEFAULTS.testSubset;
  const train = await openDataset(dataset, 'train', { dataDir, subset: trainSubset, seed: seed + 1 });
  try {
    const test = await openDataset(dataset, 'test', { dataDir, subset: testSubset, seed: seed + 2 });
    try {
      io.err(`evaluating on ${train.length} train / ${test.length} test images of ${dataset} ...\n`);
      return await evaluateRepresentation(model, train, test, {
        k: v.k as number | undefined,
        temperature: v.knnTemperature as number | undefined,
        linearProbe: v.noLinear !== true,
        pixels: v.noPixels !== true,
      });
    } finally {
      test.dispose();
    }
  } finally {
    train.dispose();
  }
}

/** The four headline numbers of an evaluation, for JSON output. */
export function describeEval(r: RepresentationResult): Record<string, number | undefined> {
  return {
    knnLearned: r.learned.knn.top1,
    knnPixels: r.pixels?.knn.top1,
    linearLearned: r.learned.linear?.testAccuracy,
    linearPixels: r.pixels?.linear?.testAccuracy,
  };
}
