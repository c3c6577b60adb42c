// Tensor: a JS handle on native memory. Free it with dispose() (or `using`); memory() counts what
// is still alive so tests and users can check that it returns to a baseline.
import { binding, DType, Device, MemoryInfo, NativeTensor, NativeTypedArray } from './native';

const disposeSymbol: symbol = (Symbol as unknown as { dispose?: symbol }).dispose ?? Symbol.for('nodejs.dispose');

export type TensorData = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;

function shapeOf(shape: readonly number[] | undefined, data: TensorData): number[] {
  if (!ArrayBuffer.isView(data)) throw new TypeError(`data must be a Float32Array, Float64Array, Int32Array, BigInt64Array or Uint8Array, got ${data === null ? 'null' : typeof data}`);
  if (shape === undefined) return [data.length];
  if (!Array.isArray(shape)) throw new TypeError('shape must be an array of non-negative integers');
  return [...shape];
}

export class Tensor {
  /** @internal The native handle; other modules of this package pass it to the binding. */
  readonly handle: NativeTensor;

  /** @internal Wraps a native tensor; use Tensor.from() or functions that return tensors. */
  constructor(handle: NativeTensor) {
    this.handle = handle;
  }

  /** Copies `data` into a new native tensor of the given shape (default: 1-D). */
  static from(data: TensorData, shape?: readonly number[]): Tensor {
    return new Tensor(binding().tensorFromTypedArray(data, shapeOf(shape, data)));
  }

  /**
   * The same copy on the torch worker thread, so a big array (a whole dataset) never holds up
   * the event loop. Do not change `data` until the promise settles.
   */
  static async fromAsync(data: TensorData, shape?: readonly number[]): Promise<Tensor> {
    return new Tensor(await binding().tensorFromTypedArrayAsync(data, shapeOf(shape, data)));
  }

  get shape(): number[] {
    return this.handle.shape;
  }
  get dtype(): DType {
    return this.handle.dtype;
  }
  get device(): Device {
    return this.handle.device;
  }
  /** Size of the data in bytes. */
  get nbytes(): number {
    return this.handle.nbytes;
  }
  get disposed(): boolean {
    return this.handle.disposed;
  }

  /** Copies the values out into a new typed array matching the dtype. */
  toTypedArray(): NativeTypedArray {
    return this.handle.toTypedArray();
  }

  /** Matrix product, computed on the torch worker thread. */
  async matmul(other: Tensor): Promise<Tensor> {
    if (!(other instanceof Tensor)) throw new TypeError('matmul: other must be a Tensor');
    return new Tensor(await this.handle.matmul(other.handle));
  }

  /** Frees the native memory now. Using the tensor afterwards throws. Idempotent. */
  dispose(): void {
    this.handle.dispose();
  }

  [Symbol.toPrimitive](hint: string): string | number {
    if (hint === 'number') return NaN;
    return this.toString();
  }

  toString(): string {
    return this.disposed ? 'Tensor(disposed)' : `Tensor(shape=[${this.shape.join(', ')}], dtype=${this.dtype}, device=${this.device})`;
  }
}

(Tensor.prototype as unknown as Record<symbol, () => void>)[disposeSymbol] = function (this: Tensor) {
  this.dispose();
};

/** Live native tensors held by JS, and their bytes (all threads of this process). */
export function memory(): MemoryInfo {
  return binding().memory();
}

/** Disposes every tensor in `items` (arrays and plain objects are walked). */
export function disposeAll(...items: unknown[]): void {
  const walk = (x: unknown): void => {
    if (x instanceof Tensor) x.dispose();
    else if (Array.isArray(x)) x.forEach(walk);
    else if (x && typeof x === 'object' && Object.getPrototypeOf(x) === Object.prototype) Object.values(x).forEach(walk);
  };
  items.forEach(walk);
}
