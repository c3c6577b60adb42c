// NegativeQueue: the MoCo negative-key ring buffer (design §4) held natively. Rule of use:
// compute both loss directions of a step from negatives(), then enqueue that step's keys.
import { binding, NativeNegativeQueue } from './native';
import { Tensor } from './tensor';

/** Checkpoint form: keys [K,D], sampleIndex [K] int64, valid [K] uint8, pointer. */
export interface QueueState {
  keys: Tensor;
  sampleIndex: Tensor;
  valid: Tensor;
  pointer: number;
}

export class NegativeQueue {
  /** @internal */
  readonly handle: NativeNegativeQueue;

  /** An empty queue of `size` slots of `dim` features (all slots invalid until filled). */
  constructor(size: number, dim: number, options: { dtype?: 'float32' | 'float64' } = {}) {
    // Sizes and dtype are checked natively (queue_binding.cc, queue.cc).
    const Ctor = binding().NativeNegativeQueue;
    this.handle = new Ctor(size, dim, options.dtype);
  }

  get size(): number {
    return this.handle.size;
  }
  get dim(): number {
    return this.handle.dim;
  }
  /** Next slot written. */
  get pointer(): number {
    return this.handle.pointer;
  }
  get numValid(): number {
    return this.handle.numValid;
  }
  get disposed(): boolean {
    return this.handle.disposed;
  }

  /** Adds keys [B,D] (normalised on the way in) with their sample indices [B] int64 (dataset indices >= 0, or -1 for an unknown sample). Any B; wraps around. */
  enqueue(keys: Tensor, sampleIndex: Tensor): void {
    if (!(keys instanceof Tensor)) throw new TypeError('enqueue: keys must be a Tensor');
    if (!(sampleIndex instanceof Tensor)) throw new TypeError('enqueue: sampleIndex must be a Tensor');
    this.handle.enqueue(keys.handle, sampleIndex.handle);
  }

  /** Snapshot (copies) for infoNce({ negatives }): keys, valid (uint8), sampleIndex. Dispose them. */
  negatives(): { keys: Tensor; valid: Tensor; sampleIndex: Tensor } {
    const n = this.handle.negatives();
    return { keys: new Tensor(n.keys), valid: new Tensor(n.valid), sampleIndex: new Tensor(n.sampleIndex) };
  }

  /** Copies of keys, indices, valid flags and the pointer, for checkpoints. Dispose the tensors. */
  state(): QueueState {
    const s = this.handle.state();
    return { keys: new Tensor(s.keys), sampleIndex: new Tensor(s.sampleIndex), valid: new Tensor(s.valid), pointer: s.pointer };
  }

  /** Restores a state() of a queue with the same size and dim; validated before anything changes. */
  loadState(s: QueueState): void {
    if (s === null || typeof s !== 'object') throw new TypeError('loadState: state must be an object { keys, sampleIndex, valid, pointer }');
    for (const k of ['keys', 'sampleIndex', 'valid'] as const) {
      if (!(s[k] instanceof Tensor)) throw new TypeError(`loadState: state.${k} must be a Tensor`);
    }
    if (typeof s.pointer !== 'number') throw new TypeError('loadState: state.pointer must be a number');
    this.handle.loadState({ keys: s.keys.handle, sampleIndex: s.sampleIndex.handle, valid: s.valid.handle, pointer: s.pointer });
  }

  /** Frees the native buffers now. Idempotent. */
  dispose(): void {
    this.handle.dispose();
  }
}
