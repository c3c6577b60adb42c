// Datasets from pixels already in memory (typed arrays), e.g. generated data or another loader.
import { DatasetError, ImageDataset, datasetFromBytes } from './dataset';

export interface ArrayDatasetSource {
  /** Pixel bytes, N*C*H*W of them. */
  images: Uint8Array;
  /** [N, C, H, W] (or [N, H, W, C] with layout 'nhwc'), or [N, H, W] for one channel. */
  shape: readonly number[];
  /** One integer label per sample. */
  labels: ArrayLike<number>;
  /** Default: the largest label + 1. */
  numClasses?: number;
  classNames?: readonly string[];
  layout?: 'nchw' | 'nhwc';
  name?: string;
}

function tag(x: unknown): string {
  return Object.prototype.toString.call(x);
}

/** Copies the pixels once into a native uint8 dataset tensor. */
export function fromArrays(src: ArrayDatasetSource): ImageDataset {
  if (!src || typeof src !== 'object') throw new TypeError('fromArrays: expected { images, shape, labels }');
  // Tag check, not instanceof: arrays may come from another realm (vm, jest, the addon).
  if (tag(src.images) !== '[object Uint8Array]') {
    throw new TypeError(`fromArrays: images must be a Uint8Array of pixel bytes, got ${tag(src.images)}`);
  }
  const shape = src.shape;
  if (!Array.isArray(shape) || (shape.length !== 3 && shape.length !== 4) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new TypeError(`fromArrays: shape must be [N, C, H, W] or [N, H, W] of non-negative integers, got ${JSON.stringify(shape)}`);
  }
  const n = shape[0];
  const labels = src.labels;
  if (labels === null || typeof labels !== 'object' || typeof labels.length !== 'number') throw new TypeError('fromArrays: labels must be an array of integers');
  if (labels.length !== n) throw new DatasetError(`fromArrays: ${labels.length} labels for ${n} images`, { code: 'ERR_DATASET' });
  const lab = new Int32Array(n);
  let max = -1;
  for (let i = 0; i < n; i++) {
    const v = labels[i];
    if (!Number.isInteger(v) || v < 0 || v > 0x7fffffff) throw new RangeError(`fromArrays: labels[${i}] = ${String(v)} is not a non-negative integer`);
    lab[i] = v;
    if (v > max) max = v;
  }
  const numClasses = src.numClasses ?? Math.max(max + 1, 1);
  return datasetFromBytes(src.images, shape, lab, { numClasses, classNames: src.classNames, name: src.name ?? 'arrays', layout: src.layout ?? 'nchw' });
}
