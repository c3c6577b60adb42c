// Batched, seeded SimCLR-style augmentation (design §6) on the native side: one apply() turns a
// uint8 [B,C,H,W] batch into one float32 view [B,C,outSize,outSize]; call it twice for two views.
// The pipeline and its exact semantics are documented in native/core/augment.h; defaults and
// ranges live there too.
import { binding, NativeAugmenter } from './native';
import { Tensor } from './tensor';

export interface AugmentConfig {
  /** Output side: views are outSize × outSize. */
  outSize: number;
  /** RandomResizedCrop area fraction [min, max], 0 < min <= max <= 1. Small images: e.g. [0.2, 1]. */
  scale: [number, number];
  /** RandomResizedCrop aspect ratio (w/h) range. */
  ratio: [number, number];
  /** Horizontal flip probability. */
  flipP: number;
  /** Probability of applying colour jitter (brightness, contrast, saturation, hue in random order). */
  jitterP: number;
  brightness: number;
  contrast: number;
  saturation: number;
  /** Hue shift range [-hue, hue], hue in [0, 0.5]. */
  hue: number;
  /** Random grayscale probability (3-channel data only). */
  grayscaleP: number;
  /** Gaussian blur probability; 0 by default (small images). */
  blurP: number;
  /** Blur sigma range [min, max]. */
  blurSigma: [number, number];
  /** Odd blur kernel size, or 0 for about 10% of outSize (at least 3). */
  blurKernelSize: number;
  /** Solarisation probability (threshold 0.5 on [0,1] values). */
  solarizeP: number;
  /** Per-channel normalisation; null = 0.5 for every channel. mean 0 / std 1 disables it. */
  mean: number[] | null;
  std: number[] | null;
  /** Multi-crop (DINO): local crops per image besides the two global views (0 = none). */
  localCrops: number;
  /** Side of the local crops; 0 = 3/7 of outSize (DINO's 96 of 224). */
  localSize: number;
  /** Crop area fraction [min, max] of the local crops. */
  localScale: [number, number];
  /**
   * Each sample's augmentation drawn from its own stream keyed by (seed, step, sample index,
   * view) rather than the batch's sequential stream: the same whichever batch position or
   * data-parallel rank the sample lands on (so N ranks × B equal one process × N·B). Training
   * steps then need sample indices (the Trainer passes them).
   */
  perSample: boolean;
}

let defaults: Readonly<AugmentConfig> | null = null;

/**
 * The standalone augmenter's defaults, as the core defines them (native/core/augment.h):
 * torchvision's SimCLR recipe. A model's default augment section (crop scale (0.2, 1), no blur,
 * for small images) is `defaultSslConfig().augment`.
 */
export function augmentDefaults(): Readonly<AugmentConfig> {
  if (defaults === null) defaults = Object.freeze(binding().augmentDefaults() as unknown as AugmentConfig);
  return defaults;
}

const disposeSymbol: symbol = (Symbol as unknown as { dispose?: symbol }).dispose ?? Symbol.for('nodejs.dispose');

/**
 * Seeded batch augmenter. Work runs on the torch worker thread; calls on one augmenter are
 * processed in order, so getState() after apply() reflects that apply.
 */
export class BatchAugmenter {
  readonly config: Readonly<AugmentConfig>;
  private native: NativeAugmenter | null;

  /**
   * @param config fields over augmentDefaults(); unknown fields and bad values throw, naming the field.
   * @param seed non-negative integer (number up to 2^53 - 1, or bigint up to 2^64 - 1).
   */
  constructor(config: Partial<AugmentConfig> = {}, seed: number | bigint = 0) {
    this.native = new (binding().NativeAugmenter)(config, seed);
    this.config = Object.freeze(this.native.config() as unknown as AugmentConfig);
  }

  private live(): NativeAugmenter {
    if (this.native === null) {
      const err = new Error('augmenter has been disposed') as Error & { code: string };
      err.code = 'ERR_DISPOSED';
      throw err;
    }
    return this.native;
  }

  /** One augmented view: uint8 [B,C,H,W] (C = 1 or 3) -> float32 [B,C,outSize,outSize]. */
  async apply(batch: Tensor): Promise<Tensor> {
    if (!(batch instanceof Tensor)) throw new TypeError('apply: batch must be a Tensor');
    return new Tensor(await this.live().apply(batch.handle));
  }

  /** The generator state (uint8 tensor) for checkpoints; restore it with setState(). */
  async getState(): Promise<Tensor> {
    return new Tensor(await this.live().getState());
  }

  async setState(state: Tensor): Promise<void> {
    if (!(state instanceof Tensor)) throw new TypeError('setState: state must be a Tensor from getState()');
    await this.live().setState(state.handle);
  }

  get disposed(): boolean {
    return this.native === null;
  }

  /** Releases the native augmenter (queued work still completes). Idempotent. */
  dispose(): void {
    this.native?.dispose();
    this.native = null;
  }
}

(BatchAugmenter.prototype as unknown as Record<symbol, () => void>)[disposeSymbol] = function (this: BatchAugmenter) {
  this.dispose();
};
