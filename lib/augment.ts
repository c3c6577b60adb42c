// Batched, seeded SimCLR-style augmentation (design.md §6) on the native side: one apply() turns a
// uint8 [B,C,H,W] batch into one float32 view [B,C,outSize,outSize]; call it twice for two views.
// The pipeline and its exact semantics are documented in native/core/augment.h.
import { binding, NativeTensor } from './native';
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
}

/** SimCLR CIFAR-style defaults. The native core has the same defaults (checked by the tests). */
export const AUGMENT_DEFAULTS: Readonly<AugmentConfig> = Object.freeze({
  outSize: 32,
  scale: [0.08, 1.0] as [number, number],
  ratio: [3 / 4, 4 / 3] as [number, number],
  flipP: 0.5,
  jitterP: 0.8,
  brightness: 0.4,
  contrast: 0.4,
  saturation: 0.4,
  hue: 0.1,
  grayscaleP: 0.2,
  blurP: 0.0,
  blurSigma: [0.1, 2.0] as [number, number],
  blurKernelSize: 0,
  solarizeP: 0.0,
  mean: null,
  std: null,
});

/** @internal The flat shape the binding takes (field names of the C++ AugmentConfig). */
export interface NativeAugmentConfig {
  outSize: number;
  scaleMin: number;
  scaleMax: number;
  ratioMin: number;
  ratioMax: number;
  flipP: number;
  jitterP: number;
  brightness: number;
  contrast: number;
  saturation: number;
  hue: number;
  grayscaleP: number;
  blurP: number;
  blurSigmaMin: number;
  blurSigmaMax: number;
  blurKernelSize: number;
  solarizeP: number;
  mean: number[] | null;
  std: number[] | null;
}

/** @internal */
export interface NativeAugmenter {
  apply(batch: NativeTensor): Promise<NativeTensor>;
  getState(): Promise<NativeTensor>;
  setState(state: NativeTensor): Promise<void>;
  config(): NativeAugmentConfig;
  dispose(): void;
  readonly disposed: boolean;
}

const RANGE_FIELDS = ['scale', 'ratio', 'blurSigma'] as const;

function rangeOf(name: string, v: unknown): [number, number] {
  if (!Array.isArray(v) || v.length !== 2 || typeof v[0] !== 'number' || typeof v[1] !== 'number') {
    throw new TypeError(`augment config: ${name} must be a [min, max] pair of numbers`);
  }
  return [v[0], v[1]];
}

/** Defaults overlaid with `config`; unknown fields and malformed ranges throw TypeError. Values are checked natively. */
export function resolveAugmentConfig(config: Partial<AugmentConfig> = {}): AugmentConfig {
  if (config === null || typeof config !== 'object' || Array.isArray(config)) throw new TypeError('augment config must be an object');
  for (const key of Object.keys(config)) {
    if (!(key in AUGMENT_DEFAULTS)) {
      throw new TypeError(`augment config: unknown field '${key}' (allowed: ${Object.keys(AUGMENT_DEFAULTS).join(', ')})`);
    }
  }
  const merged = { ...AUGMENT_DEFAULTS, ...config } as AugmentConfig;
  for (const f of RANGE_FIELDS) merged[f] = rangeOf(f, merged[f]);
  for (const f of ['mean', 'std'] as const) {
    const v = merged[f];
    if (v !== null && !(Array.isArray(v) && v.every((x) => typeof x === 'number'))) {
      throw new TypeError(`augment config: ${f} must be an array of numbers (one per channel) or null`);
    }
    merged[f] = v === null ? null : [...v];
  }
  return merged;
}

/** @internal The flat form the native side reads (C++ AugmentConfig field names). */
export function toNativeAugmentConfig(c: AugmentConfig): NativeAugmentConfig {
  return {
    outSize: c.outSize,
    scaleMin: c.scale[0],
    scaleMax: c.scale[1],
    ratioMin: c.ratio[0],
    ratioMax: c.ratio[1],
    flipP: c.flipP,
    jitterP: c.jitterP,
    brightness: c.brightness,
    contrast: c.contrast,
    saturation: c.saturation,
    hue: c.hue,
    grayscaleP: c.grayscaleP,
    blurP: c.blurP,
    blurSigmaMin: c.blurSigma[0],
    blurSigmaMax: c.blurSigma[1],
    blurKernelSize: c.blurKernelSize,
    solarizeP: c.solarizeP,
    mean: c.mean,
    std: c.std,
  };
}

/** @internal The native defaults in the TS shape (tests compare them with AUGMENT_DEFAULTS). */
export function nativeAugmentDefaults(): AugmentConfig {
  const n = binding().augmentDefaults();
  return {
    outSize: n.outSize,
    scale: [n.scaleMin, n.scaleMax],
    ratio: [n.ratioMin, n.ratioMax],
    flipP: n.flipP,
    jitterP: n.jitterP,
    brightness: n.brightness,
    contrast: n.contrast,
    saturation: n.saturation,
    hue: n.hue,
    grayscaleP: n.grayscaleP,
    blurP: n.blurP,
    blurSigma: [n.blurSigmaMin, n.blurSigmaMax],
    blurKernelSize: n.blurKernelSize,
    solarizeP: n.solarizeP,
    mean: n.mean,
    std: n.std,
  };
}

const disposeSymbol: symbol = (Symbol as unknown as { dispose?: symbol }).dispose ?? Symbol.for('nodejs.dispose');

/**
 * Seeded batch augmenter. Work runs on the torch worker thread; calls on one augmenter are
 * processed in order, so getState() after apply() reflects that apply.
 */
export class BatchAugmenter {
  readonly config: Readonly<AugmentConfig>;
  private native: NativeAugmenter | null;

  /** @param seed non-negative integer (number up to 2^53 - 1, or bigint up to 2^64 - 1). */
  constructor(config: Partial<AugmentConfig> = {}, seed: number | bigint = 0) {
    this.config = Object.freeze(resolveAugmentConfig(config));
    this.native = new (binding().NativeAugmenter)(toNativeAugmentConfig(this.config), seed);
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
