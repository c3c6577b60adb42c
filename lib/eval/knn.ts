// Weighted kNN on L2-normalised features (design §7; the MoCo CIFAR demo's evaluator).
import { binding } from '../native';
import { Tensor } from '../tensor';

export interface KnnOptions {
  /** Neighbours that vote (default 200). */
  k?: number;
  /** Vote weight exp(sim / T) (default 0.1). */
  temperature?: number;
  /** 0 or absent: 1 + the largest label. */
  numClasses?: number;
}

export interface KnnResult {
  top1: number;
  top5: number;
  /** int64 [N_test] predicted classes; dispose() it when done. */
  predictions: Tensor;
}

/** Features float [N,F]; labels int64 [N]. Runs natively off the event loop. */
export async function knnClassify(trainFeatures: Tensor, trainLabels: Tensor, testFeatures: Tensor, testLabels: Tensor, options: KnnOptions = {}): Promise<KnnResult> {
  const args = [trainFeatures, trainLabels, testFeatures, testLabels];
  if (!args.every((a) => a instanceof Tensor)) throw new TypeError('knnClassify: features and labels must be Tensors');
  const r = await binding().knnClassify(trainFeatures.handle, trainLabels.handle, testFeatures.handle, testLabels.handle, { k: 200, temperature: 0.1, ...options });
  return { top1: r.top1, top5: r.top5, predictions: new Tensor(r.predictions) };
}
