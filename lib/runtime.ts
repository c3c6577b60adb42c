// Process-level facts and settings of the native runtime.
import { binding, RuntimeInfo } from './native';

/** LibTorch version, CUDA availability and the torch worker's thread count. */
export function info(): RuntimeInfo {
  return binding().info();
}

/** Intra-op threads LibTorch uses for this thread's jobs (applied before the next job). */
export function setNumThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`setNumThreads: n must be an integer >= 1, got ${n}`);
  binding().setNumThreads(n);
}
