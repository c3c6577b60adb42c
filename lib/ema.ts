// FlatEma: a standalone fused EMA (design §2) over given tensors, for tests, benchmarks and users
// composing their own loops. The SSL model does its EMA natively inside the training step; this
// exposes the same code.
import { binding, NativeFlatEma } from './native';
import { Tensor } from './tensor';

export interface FlatEmaInfo {
  /** Parameters (elements) covered. */
  numel: number;
  /** Flat buffers, one per (device, dtype) of the online tensors. */
  numGroups: number;
  /** Every tensor still a view of its buffer (false after a dtype/device move until rebind). */
  isFlat: boolean;
}

/**
 * A fused EMA over the given online tensors: they are re-pointed into one flat buffer per
 * (device, dtype) (the Tensor handles stay valid and see the same values) and an EMA copy is kept
 * in at least fp32. `update(m)` computes `ema ← m·ema + (1−m)·online` in one pass on the torch
 * worker; `updateReference(m)` is the per-tensor reference, for comparison.
 */
export class FlatEma {
  private readonly native: NativeFlatEma;

  private constructor(native: NativeFlatEma) {
    this.native = native;
  }

  /**
   * Flattens `online` and makes the EMA copy: of `initialEma` when given (same count and shapes
   * as `online`; copied, not re-pointed), else of `online`.
   */
  static async create(online: readonly Tensor[], initialEma?: readonly Tensor[]): Promise<FlatEma> {
    const handles = (ts: readonly Tensor[], what: string) => {
      if (!Array.isArray(ts)) throw new TypeError(`FlatEma.create: ${what} must be an array of Tensors`);
      return ts.map((t, i) => {
        if (!(t instanceof Tensor)) throw new TypeError(`FlatEma.create: ${what}[${i}] must be a Tensor`);
        return t.handle;
      });
    };
    const o = handles(online, 'online');
    const e = initialEma === undefined ? undefined : handles(initialEma, 'initialEma');
    return new FlatEma(await binding().createFlatEma(o, e));
  }

  /** Number of parameters (elements) covered. */
  get numel(): number {
    return this.native.numel;
  }

  get disposed(): boolean {
    return this.native.disposed();
  }

  /** `ema ← m·ema + (1−m)·online`, fused; m in [0, 1]. Rebinds first if tensors moved. */
  async update(m: number): Promise<void> {
    return this.native.update(m);
  }

  /** Same update computed per tensor (the reference the fused kernel is tested against). */
  async updateReference(m: number): Promise<void> {
    return this.native.updateReference(m);
  }

  /** `ema ← online`. */
  async copyOnlineToEma(): Promise<void> {
    return this.native.copyOnlineToEma();
  }

  /** Re-flattens after a dtype/device move or load (no-op while flat). */
  async rebind(): Promise<void> {
    return this.native.rebind();
  }

  async info(): Promise<FlatEmaInfo> {
    return this.native.info();
  }

  /** New handles on the EMA tensors (same shapes as online); dispose them when done. */
  ema(): Tensor[] {
    return this.native.ema().map((h) => new Tensor(h));
  }

  /** Frees the native state (the online tensors stay alive with their JS owners). Idempotent. */
  dispose(): void {
    this.native.dispose();
  }
}
