// The benchmark addon, build/Release/momentum_ssl_bench.node: the product addon plus the
// bench-only entry points of native/napi/bench_binding.cc (CMake target momentum_ssl_bench, built
// in checkouts only; the npm package ships neither). It becomes the one addon of this process
// (MOMENTUM_SSL_ADDON, inherited by child processes), so the tensors lib/ makes are the tensors
// the bench functions take. Import this module before anything loads the addon.
import * as fs from 'fs';
import * as path from 'path';

import { binding, NativeBinding, NativeTensor } from '../../lib/native';

export const BENCH_ADDON = path.resolve(__dirname, '..', '..', 'build', 'Release', 'momentum_ssl_bench.node');

if (!process.env.MOMENTUM_SSL_ADDON) {
  if (!fs.existsSync(BENCH_ADDON)) {
    throw new Error(`bench: ${BENCH_ADDON} is not built; build it with \`npm run build:native\` (checkouts build momentum_ssl_bench.node beside the addon)`);
  }
  process.env.MOMENTUM_SSL_ADDON = BENCH_ADDON;
}

/** The bench addon's extra entry points (native/napi/bench_binding.cc); timings are mean seconds per iteration. */
export interface BenchBinding extends NativeBinding {
  benchNoop(): void;
  benchNoopAsync(): Promise<number>;
  benchFusedEma(online: NativeTensor[], iters: number, m: number): Promise<number>;
  benchEmaLerpFlat(online: NativeTensor, ema: NativeTensor, iters: number, weight: number): Promise<number>;
  benchAddInPlace(a: NativeTensor, b: NativeTensor, iters: number, impl?: 'loop' | 'aten'): Promise<number>;
  benchNtXentPair(a: NativeTensor, b: NativeTensor, iters: number, temperature: number): Promise<number>;
}

/** The loaded addon, bench entry points included. */
export function benchBinding(): BenchBinding {
  const b = binding() as NativeBinding & Partial<BenchBinding>;
  if (typeof b.benchNoop !== 'function') throw new Error(`bench: the loaded addon (MOMENTUM_SSL_ADDON=${process.env.MOMENTUM_SSL_ADDON}) has no bench entry points; use ${BENCH_ADDON}`);
  return b as BenchBinding;
}
