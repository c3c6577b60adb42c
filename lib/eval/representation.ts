// Representation quality (design §7): the backbone's features of both splits through weighted
// kNN and a linear probe, next to the same evaluators on raw pixels (the honest baseline).
import { ConfigError, checkInt } from '../errors';
import type { ImageDataset } from '../data/dataset';
import type { SslModel } from '../model';
import type { Tensor } from '../tensor';
import { knnClassify } from './knn';
import { linearProbe, LinearProbeOptions, LinearProbeResult } from './linearProbe';
import { pixelFeatures } from './pixels';

export interface EvaluateOptions {
  /** kNN neighbours (design §7: 200). */
  k: number;
  /** kNN vote temperature (design §7: 0.1). */
  temperature: number;
  /** Run the linear probe (options passed through), or false to skip it. */
  linearProbe: boolean | LinearProbeOptions;
  /** Evaluate raw pixels with the same evaluators as the baseline. */
  pixels: boolean;
}

export const EVALUATE_DEFAULTS: Readonly<EvaluateOptions> = Object.freeze({ k: 200, temperature: 0.1, linearProbe: true, pixels: true });

export interface FeatureEvaluation {
  featureDim: number;
  knn: { top1: number; top5: number };
  linear?: LinearProbeResult;
  /** Wall time of feature extraction and of each evaluator, ms. */
  ms: { features: number; knn: number; linear: number };
}

export interface RepresentationResult {
  learned: FeatureEvaluation;
  /** The honest baseline: the same evaluators on raw pixels in [0, 1]. */
  pixels?: FeatureEvaluation;
  trainSize: number;
  testSize: number;
  k: number;
  temperature: number;
}

async function evaluateFeatures(trainF: Tensor, trainL: Tensor, testF: Tensor, testL: Tensor, o: EvaluateOptions, numClasses: number, featureMs: number): Promise<FeatureEvaluation> {
  let t = Date.now();
  const knn = await knnClassify(trainF, trainL, testF, testL, { k: o.k, temperature: o.temperature, numClasses });
  knn.predictions.dispose();
  const knnMs = Date.now() - t;
  t = Date.now();
  let linear: LinearProbeResult | undefined;
  if (o.linearProbe !== false) {
    const lp = o.linearProbe === true ? {} : o.linearProbe;
    linear = await linearProbe(trainF, trainL, testF, testL, { numClasses, ...lp });
  }
  return { featureDim: trainF.shape[1], knn: { top1: knn.top1, top5: knn.top5 }, ...(linear ? { linear } : {}), ms: { features: featureMs, knn: knnMs, linear: Date.now() - t } };
}

/**
 * Embeds both splits with the model's backbone (eval mode) and runs weighted kNN and the linear
 * probe on them, and, as the baseline, on raw pixels.
 */
export async function evaluateRepresentation(model: SslModel, trainSet: ImageDataset, testSet: ImageDataset, options: Partial<EvaluateOptions> = {}): Promise<RepresentationResult> {
  const o: EvaluateOptions = { ...EVALUATE_DEFAULTS, ...definedOnly(options) };
  checkInt('k', o.k, 1);
  if (!(typeof o.temperature === 'number' && o.temperature > 0)) throw new ConfigError(`temperature must be a number > 0, got ${JSON.stringify(o.temperature)}`);
  const numClasses = Math.max(trainSet.numClasses, testSet.numClasses);
  const tensors: Tensor[] = [];
  try {
    let t = Date.now();
    const trainF = await model.embed(trainSet.images);
    tensors.push(trainF);
    const testF = await model.embed(testSet.images);
    tensors.push(testF);
    const learned = await evaluateFeatures(trainF, trainSet.labels, testF, testSet.labels, o, numClasses, Date.now() - t);
    let pixels: FeatureEvaluation | undefined;
    if (o.pixels) {
      t = Date.now();
      const trainP = await pixelFeatures(trainSet.images);
      tensors.push(trainP);
      const testP = await pixelFeatures(testSet.images);
      tensors.push(testP);
      pixels = await evaluateFeatures(trainP, trainSet.labels, testP, testSet.labels, o, numClasses, Date.now() - t);
    }
    return { learned, ...(pixels ? { pixels } : {}), trainSize: trainSet.length, testSize: testSet.length, k: o.k, temperature: o.temperature };
  } finally {
    for (const x of tensors) x.dispose();
  }
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
