// EpochSampler: seeded shuffled order per epoch, cut into index batches. The order is computed
// natively (native/core/data: xoshiro256** + Fisher–Yates, identical on every platform and
// LibTorch version), so a checkpointed {epoch, position} resumes exactly.
import { binding } from '../native';

export interface EpochSamplerOptions {
  /** Samples per batch, >= 1. */
  batchSize: number;
  /** Drop the last partial batch of each epoch (default false). */
  dropLast?: boolean;
  /** Shuffle each epoch (default true); false gives 0..N-1 in order (evaluation). */
  shuffle?: boolean;
  /** Seed of the permutations: a non-negative safe integer or a bigint (default 0). */
  seed?: number | bigint;
  /**
   * Data parallel (DistributedSampler's semantics, design §9): every rank computes the same
   * permutation and takes every worldSize-th sample from position `rank`; needs dropLast.
   * Batch b of all ranks together is batch b of one process with batchSize × worldSize.
   */
  rank?: number;
  worldSize?: number;
}

/** Where the sampler is: the next batch is batch `position` of epoch `epoch`. */
export interface SamplerState {
  epoch: number;
  position: number;
}

type NativeSampler = InstanceType<ReturnType<typeof binding>['DataSampler']>;

export class EpochSampler implements Iterable<Int32Array> {
  readonly size: number;
  readonly batchSize: number;
  readonly dropLast: boolean;
  readonly shuffle: boolean;
  readonly seed: number | bigint;
  private readonly native: NativeSampler;

  /** `size`: number of samples (or anything with a `length`, e.g. an ImageDataset). */
  constructor(size: number | { readonly length: number }, options: EpochSamplerOptions) {
    const n = typeof size === 'number' ? size : size?.length;
    if (options === null || typeof options !== 'object') throw new TypeError('EpochSampler: options { batchSize, dropLast?, shuffle?, seed? } are required');
    this.size = n;
    this.batchSize = options.batchSize;
    this.dropLast = options.dropLast ?? false;
    this.shuffle = options.shuffle ?? true;
    this.seed = options.seed ?? 0;
    // The native side validates (batchSize >= 1, size, seed) and names the bad option.
    this.native = new (binding().DataSampler)({ size: n, batchSize: this.batchSize, dropLast: this.dropLast, shuffle: this.shuffle, seed: this.seed, rank: options.rank, worldSize: options.worldSize });
  }

  /** Batches per epoch: ceil(size / batchSize), or floor with dropLast. */
  get batchesPerEpoch(): number {
    return this.native.batchesPerEpoch;
  }
  /** The epoch the next batch belongs to. */
  get epoch(): number {
    return this.native.state().epoch;
  }

  /** A small plain object to store in a checkpoint. */
  state(): SamplerState {
    const s = this.native.state();
    return { epoch: s.epoch, position: s.position };
  }
  /** Resumes at `state` (as returned by state()); the same seed and size give the same batches. */
  setState(state: SamplerState): void {
    this.native.setState(state);
  }
  /** Starts epoch `epoch` from its first batch. */
  setEpoch(epoch: number): void {
    this.native.setState({ epoch, position: 0 });
  }

  /** The next batch of indices; after an epoch's last batch the sampler moves to the next epoch. */
  next(): Int32Array {
    return this.native.next();
  }

  /** The remaining batches of the current epoch; the sampler is then at the start of the next. */
  *[Symbol.iterator](): Iterator<Int32Array> {
    const epoch = this.epoch;
    while (this.epoch === epoch) yield this.native.next();
  }
}
