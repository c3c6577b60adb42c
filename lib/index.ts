export { Tensor, memory, disposeAll } from './tensor';
export type { TensorData } from './tensor';
export { info, setNumThreads } from './runtime';
export { NativeLoadError, explainLoadFailure } from './native';
export type { DType, Device, RuntimeInfo, MemoryInfo, LoadFailureReason } from './native';
