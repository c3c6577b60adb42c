// The only module that touches the raw addon: loads it once per thread (finding it and explaining
// a failed load is lib/loader.ts) and types it.
import type { ProcessGroupOptions } from './distributed/processGroup';
import type { StepResult } from './model';
import { AddonKind, loadAddon } from './loader';

import { applyOmpWaitPolicy } from './ompPolicy';

export { packageRoot, NativeLoadError, addonCandidates, explainLoadFailure } from './loader';
export type { LoadFailureReason, LoadAttempt, AddonKind } from './loader';

export type DType = 'float32' | 'float64' | 'int32' | 'int64' | 'uint8' | 'float16' | 'bfloat16' | 'bool';
export type Device = 'cpu' | 'cuda';
export type NativeTypedArray = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;

export interface NativeTensor {
  readonly shape: number[];
  readonly dtype: DType;
  readonly device: Device;
  readonly nbytes: number;
  readonly disposed: boolean;
  toTypedArray(): NativeTypedArray;
  dispose(): void;
  matmul(other: NativeTensor): Promise<NativeTensor>;
}

export interface RuntimeInfo {
  torchVersion: string;
  cudaCompiled: boolean;
  cudaAvailable: boolean;
  cudaDeviceCount: number;
  numThreads: number;
  parallelBackend: string;
}

export interface MemoryInfo {
  numTensors: number;
  numBytes: number;
}

// --- model (native/napi/ssl_model_binding.cc) ---
/** One objective as the core declares it (native/core/objective.h). */
export interface NativeObjectiveSpec {
  name: string;
  summary: string;
  /** When the key branch runs: 'ifEma' (NT-Xent) or 'always'. */
  keys: 'ifEma' | 'always';
  predictor: 'required' | 'forbidden' | 'optional';
  prototypes: boolean;
  localCrops: boolean;
  options: { name: string; kind: 'number' | 'integer' | 'boolean'; default: number | boolean; min: number; max: number; minExclusive: boolean; doc: string }[];
}

// --- process group (native/napi/process_group_binding.cc) ---
export interface NativeProcessGroup {
  connect(device?: string): Promise<void>;
  allGatherStrings(s: string): Promise<string[]>;
  anyTrue(flag: boolean): Promise<boolean>;
  barrier(): Promise<void>;
  shutdown(): Promise<void>;
  readonly connected: boolean;
  readonly busyMs: number;
  readonly config: ProcessGroupOptions;
}

export interface NativeSslModel {
  /** Resolves with StepResult exactly as the binding builds it (native/napi/ssl_model_binding.cc). */
  step(images: NativeTensor, sampleIndex?: NativeTensor): Promise<StepResult>;
  embed(images: NativeTensor): Promise<NativeTensor>;
  probe(images: NativeTensor): Promise<{ rms: (number | null)[]; cosine: (number | null)[]; blocks: { names: string[]; rms: (number | null)[]; cosine: (number | null)[] } }>;
  summary(): { step: number; numParameters: number; numEmaParameters: number; emaParts: string[]; featureDim: number; gradBlocks: string[]; device: string; objective: string; config: object };
  forwardCounts(): { online: number[]; key: number[] };
  resetForwardCounts(): Promise<void>;
  save(path: string, extra?: string): Promise<string>;
  load(path: string): Promise<string>;
  exportStateDict(path: string, ema?: boolean): Promise<string>;
  namedTensors(which: 'backbone' | 'projector', ema?: boolean): Promise<[string, NativeTensor][]>; // issue #12
  signature(): string;
  setProcessGroup(group: NativeProcessGroup | null): Promise<void>;
  dispose(): void;
  readonly disposed: boolean;
}

// --- queue (native/napi/queue_binding.cc) ---
export interface NativeNegativeQueue {
  readonly size: number;
  readonly dim: number;
  readonly pointer: number;
  readonly numValid: number;
  readonly dtype: string;
  readonly disposed: boolean;
  enqueue(keys: NativeTensor, sampleIndex: NativeTensor): void;
  negatives(): { keys: NativeTensor; valid: NativeTensor; sampleIndex: NativeTensor };
  state(): { keys: NativeTensor; sampleIndex: NativeTensor; valid: NativeTensor; pointer: number };
  loadState(s: { keys: NativeTensor; sampleIndex: NativeTensor; valid: NativeTensor; pointer: number }): void;
  dispose(): void;
}

// --- augment (native/napi/augment_binding.cc) ---
/** The augment config in its JS shape (lib/augment.ts AugmentConfig), resolved natively. */
export type NativeAugmentConfig = Record<string, number | number[] | boolean | null>;

export interface NativeAugmenter {
  apply(batch: NativeTensor): Promise<NativeTensor>;
  getState(): Promise<NativeTensor>;
  setState(state: NativeTensor): Promise<void>;
  config(): NativeAugmentConfig;
  dispose(): void;
  readonly disposed: boolean;
}

// --- ema (native/napi/ema_binding.cc) ---
/** A flattened online/EMA pair made by createFlatEma. */
export interface NativeFlatEma {
  readonly numel: number;
  update(m: number): Promise<void>;
  updateReference(m: number): Promise<void>;
  copyOnlineToEma(): Promise<void>;
  rebind(): Promise<void>;
  info(): Promise<{ numel: number; numGroups: number; isFlat: boolean }>;
  ema(): NativeTensor[];
  online(): NativeTensor[];
  dispose(): void;
  disposed(): boolean;
}
// --- end ema ---

/** The names lossValueAndGrad takes (native/napi/loss_binding.cc). */
export type NativeLossName = 'ntXentPair' | 'momentumNtXent' | 'ntXent' | 'infoNce' | 'byolLoss' | 'negativeCosine' | 'dinoLoss';

/** The raw binding. Each native binding file adds its exports here. */
export interface NativeBinding {
  addonAbi: number;
  info(): RuntimeInfo;
  shutdown(): void;
  setNumThreads(n: number): void;
  NativeTensor: Function;
  tensorFromTypedArray(data: NativeTypedArray, shape: number[]): NativeTensor;
  tensorFromTypedArrayAsync(data: NativeTypedArray, shape: number[]): Promise<NativeTensor>; // reliability #13
  memory(): MemoryInfo;
  // --- model ---
  NativeSslModel: new (config: object) => NativeSslModel;
  /** The C++ defaults of every SslConfig field, in the JS shape (design §8). */
  defaultConfig(): object;
  objectives(): NativeObjectiveSpec[];
  // --- process group ---
  NativeProcessGroup: new (options: object) => NativeProcessGroup;
  distributedEnv(): ProcessGroupOptions & { found: boolean };
  distributedBackends(): { gloo: boolean; nccl: boolean; defaults: ProcessGroupOptions };
  // --- eval ---
  knnClassify(trainF: NativeTensor, trainL: NativeTensor, testF: NativeTensor, testL: NativeTensor, opts: object): Promise<{ top1: number; top5: number; predictions: NativeTensor }>;
  linearProbe(trainF: NativeTensor, trainL: NativeTensor, testF: NativeTensor, testL: NativeTensor, opts: object): Promise<{ trainAccuracy: number; testAccuracy: number; trainLoss: number; evaluations: number }>;
  pixelFeatures(images: NativeTensor): Promise<NativeTensor>;
  // --- losses ---
  lossValueAndGrad(name: NativeLossName, inputs: (NativeTensor | null)[], options?: Record<string, number | boolean>): { loss: number; grads: (NativeTensor | null)[] };
  // --- queue ---
  NativeNegativeQueue: new (size: number, dim: number, dtype?: 'float32' | 'float64') => NativeNegativeQueue;
  // --- augment ---
  NativeAugmenter: new (config: object, seed: number | bigint) => NativeAugmenter;
  augmentDefaults(): NativeAugmentConfig;
  // --- schedules ---
  momentumAt(step: number, totalSteps: number, base: number, final: number): number;
  lrAt(step: number, totalSteps: number, warmupSteps: number, baseLr: number, finalLr?: number): number;
  // --- ema ---
  createFlatEma(online: NativeTensor[], initialEma?: NativeTensor[]): Promise<NativeFlatEma>;
  // --- end ema ---
  // --- dataset ---
  /** Validates and canonicalises a dataset: uint8 [N,C,H,W] (3-D = one channel), int64 labels. */
  dataPrepare(images: NativeTensor, labels: NativeTensor, numClasses?: number, layout?: 'nchw' | 'nhwc'): { images: NativeTensor; labels: NativeTensor };
  /** Splits fixed-size records (label byte at labelOffset, CHW pixels at pixelOffset). */
  dataUnpackRecords(
    records: NativeTensor,
    spec: { recordSize: number; labelOffset: number; pixelOffset: number; channels: number; height: number; width: number },
  ): { images: NativeTensor; labels: NativeTensor };
  /** index_select of one batch; `index` is an int64 copy of the indices. */
  dataGather(
    images: NativeTensor,
    labels: NativeTensor,
    indices: NativeTensor | Int32Array | BigInt64Array | readonly number[],
  ): { images: NativeTensor; labels: NativeTensor; index: NativeTensor };
  /** Seeded epoch sampler (native/core/data EpochSampler); batches come out as Int32Array. */
  DataSampler: new (options: { size: number; batchSize: number; dropLast?: boolean; shuffle?: boolean; seed?: number | bigint; rank?: number; worldSize?: number }) => {
    readonly batchesPerEpoch: number;
    next(): Int32Array;
    state(): { epoch: number; position: number };
    setState(state: { epoch: number; position: number }): void;
  };
}

let cached: NativeBinding | null = null;
let loadedFrom: { file: string; kind: AddonKind } | null = null;

/** The file the addon was loaded from and which candidate it was (null before the first load). */
export function loadedAddon(): { file: string; kind: AddonKind } | null {
  return loadedFrom;
}

/** Loads the addon once per thread (each worker_thread gets its own instance). */
export function binding(): NativeBinding {
  if (cached) return cached;
  applyOmpWaitPolicy(); // before libgomp loads with the addon (lib/ompPolicy.ts)
  const loaded = loadAddon<NativeBinding>();
  cached = loaded.binding;
  loadedFrom = { file: loaded.file, kind: loaded.kind };
  // Let a running native job finish before process.exit() reaches C exit() and LibTorch's static
  // destructors (the main thread runs no environment cleanup hooks on exit).
  const b = cached;
  process.once('exit', () => b.shutdown());
  return cached;
}
