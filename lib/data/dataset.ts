// ImageDataset: a whole dataset held natively as ONE uint8 tensor [N, C, H, W] plus int64 labels
// [N]. Batches are gathered natively (index_select), so pixels never pass through JS per batch.
import { binding, NativeTensor } from '../native';
import { Tensor } from '../tensor';
import { EpochSampler, EpochSamplerOptions } from './sampler';

const disposeSymbol: symbol = (Symbol as unknown as { dispose?: symbol }).dispose ?? Symbol.for('nodejs.dispose');

/** A dataset file or argument that cannot be used. `file` names the file when there is one. */
export class DatasetError extends Error {
  readonly code: string;
  readonly file?: string;
  constructor(message: string, opts: { file?: string; code?: string; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'DatasetError';
    this.code = opts.code ?? 'ERR_DATASET';
    if (opts.file !== undefined) this.file = opts.file;
  }
}

/** Indices of a batch: an int32/int64 Tensor, an Int32Array, a BigInt64Array or integers. */
export type Indices = Tensor | Int32Array | BigInt64Array | readonly number[];

/** One gathered batch; all three tensors are new and owned by the caller (disposeAll(batch)). */
export interface DatasetBatch {
  /** uint8 [B, C, H, W] */
  images: Tensor;
  /** int64 [B] */
  labels: Tensor;
  /** int64 [B]: the dataset rows of the batch (sample identities, e.g. for queue masking). */
  index: Tensor;
}

export interface ImageDatasetOptions {
  /** Number of classes; every label must be in [0, numClasses). */
  numClasses: number;
  classNames?: readonly string[];
  /** For messages and reports (e.g. 'fashion-mnist/train'). */
  name?: string;
  /** Pixel layout of `images` if 4-D: 'nchw' (default) or 'nhwc' (interleaved, as decoders give). */
  layout?: 'nchw' | 'nhwc';
}

function indicesHandle(indices: Indices): NativeTensor | Int32Array | BigInt64Array | readonly number[] {
  return indices instanceof Tensor ? indices.handle : indices;
}

export class ImageDataset {
  /** uint8 [N, C, H, W], contiguous. Owned by the dataset: freed by dispose(). */
  readonly images: Tensor;
  /** int64 [N]. Owned by the dataset. */
  readonly labels: Tensor;
  readonly numClasses: number;
  readonly classNames?: readonly string[];
  readonly name: string;

  private constructor(images: Tensor, labels: Tensor, numClasses: number, classNames: readonly string[] | undefined, name: string) {
    this.images = images;
    this.labels = labels;
    this.numClasses = numClasses;
    if (classNames !== undefined) this.classNames = Object.freeze([...classNames]);
    this.name = name;
  }

  /**
   * Builds a dataset from tensors: images uint8 [N, C, H, W] (or [N, H, W] for one channel),
   * labels any integer dtype [N]. The inputs stay the caller's (dispose them as usual); the dataset
   * holds its own handles, sharing memory when no conversion was needed.
   */
  static fromTensors(images: Tensor, labels: Tensor, options: ImageDatasetOptions): ImageDataset {
    if (!(images instanceof Tensor)) throw new TypeError('ImageDataset.fromTensors: images must be a Tensor');
    if (!(labels instanceof Tensor)) throw new TypeError('ImageDataset.fromTensors: labels must be a Tensor');
    return ImageDataset.build(images.handle, labels.handle, options);
  }

  /** @internal Validates natively and wraps; the native inputs are left to the caller. */
  static build(images: NativeTensor, labels: NativeTensor, options: ImageDatasetOptions): ImageDataset {
    const { numClasses, classNames, name = 'dataset', layout = 'nchw' } = options ?? ({} as ImageDatasetOptions);
    if (!Number.isInteger(numClasses) || numClasses < 1) {
      throw new RangeError(`ImageDataset: numClasses must be an integer >= 1, got ${String(numClasses)}`);
    }
    if (classNames !== undefined && (!Array.isArray(classNames) || classNames.length !== numClasses)) {
      throw new RangeError(`ImageDataset: classNames must list ${numClasses} names, got ${Array.isArray(classNames) ? classNames.length : typeof classNames}`);
    }
    const out = binding().dataPrepare(images, labels, numClasses, layout);
    return new ImageDataset(new Tensor(out.images), new Tensor(out.labels), numClasses, classNames, name);
  }

  /** Number of samples. */
  get length(): number {
    return this.images.shape[0];
  }
  /** [C, H, W] of one sample. */
  get sampleShape(): [number, number, number] {
    const s = this.images.shape;
    return [s[1], s[2], s[3]];
  }
  get disposed(): boolean {
    return this.images.disposed;
  }

  private live(what: string): void {
    if (this.disposed) throw new DatasetError(`${this.name}.${what}: the dataset has been disposed`, { code: 'ERR_DISPOSED' });
  }

  /** Gathers the samples at `indices` natively; the caller owns (and disposes) the result. */
  batch(indices: Indices): DatasetBatch {
    this.live('batch');
    const b = binding().dataGather(this.images.handle, this.labels.handle, indicesHandle(indices));
    return { images: new Tensor(b.images), labels: new Tensor(b.labels), index: new Tensor(b.index) };
  }

  /** A new dataset of the samples at `indices` (a native copy); this one is unchanged. */
  subset(indices: Indices, name?: string): ImageDataset {
    this.live('subset');
    const b = binding().dataGather(this.images.handle, this.labels.handle, indicesHandle(indices));
    b.index.dispose();
    return new ImageDataset(new Tensor(b.images), new Tensor(b.labels), this.numClasses, this.classNames, name ?? `${this.name}[subset]`);
  }

  /** An EpochSampler over this dataset's rows. */
  sampler(options: EpochSamplerOptions): EpochSampler {
    return new EpochSampler(this.length, options);
  }

  /** Frees the native images and labels. Idempotent. */
  dispose(): void {
    this.images.dispose();
    this.labels.dispose();
  }

  toString(): string {
    if (this.disposed) return `ImageDataset(${this.name}, disposed)`;
    return `ImageDataset(${this.name}, n=${this.length}, sample=[${this.sampleShape.join(', ')}], classes=${this.numClasses})`;
  }
}

(ImageDataset.prototype as unknown as Record<symbol, () => void>)[disposeSymbol] = function (this: ImageDataset) {
  this.dispose();
};

/** @internal Builds a dataset from JS bytes and labels, disposing the temporary tensors. */
export function datasetFromBytes(
  pixels: Uint8Array,
  shape: readonly number[],
  labels: Uint8Array | Int32Array,
  options: ImageDatasetOptions,
): ImageDataset {
  return buildDisposing(Tensor.from(pixels, shape), () => Tensor.from(labels), options);
}

/** @internal datasetFromBytes with the big pixel copy on the torch worker (loaders of whole files). */
export async function datasetFromBytesAsync(
  pixels: Uint8Array,
  shape: readonly number[],
  labels: Uint8Array | Int32Array,
  options: ImageDatasetOptions,
): Promise<ImageDataset> {
  return buildDisposing(await Tensor.fromAsync(pixels, shape), () => Tensor.from(labels), options);
}

function buildDisposing(img: Tensor, labels: () => Tensor, options: ImageDatasetOptions): ImageDataset {
  let lab: Tensor | undefined;
  try {
    lab = labels();
    return ImageDataset.build(img.handle, lab.handle, options);
  } finally {
    img.dispose();
    lab?.dispose();
  }
}
