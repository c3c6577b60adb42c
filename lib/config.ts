// The typed configuration of an SSL model and its training step. Every default and range lives
// once, in the C++ core (native/core/ssl_model.h and the structs it holds, each objective's
// declared options): defaultSslConfig() is what the core reports, and the core validates every
// value (design §8). TS only merges plain objects and types the result. Methods (lib/methods/)
// are presets over this; users override any field with a deep-partial object.
import type { AugmentConfig } from './augment';
import { binding, NativeObjectiveSpec } from './native';

export const PART_NAMES = ['stem', 'layer1', 'layer2', 'layer3', 'layer4', 'projector'] as const;
export type PartName = (typeof PART_NAMES)[number];
/** Which parts have an EMA copy (design §2): none, all six, projector only, or any set. */
export type EmaParts = 'none' | 'full' | 'projector' | readonly PartName[];

export interface BackboneConfig {
  depth: 18 | 34 | 50;
  /** 'cifar': 3×3 stride-1 conv, no max-pool; 'imagenet': 7×7 stride 2 + max-pool. */
  stem: 'cifar' | 'imagenet';
  inChannels: 1 | 3;
  /** Width multiplier: 0.25 gives stage widths 16/32/64/128 for ResNet-18. */
  width: number;
  zeroInitResidual: boolean;
}

export interface ProjectorConfig {
  hiddenDim: number;
  outDim: number;
  /** BatchNorm1d on the output (SimSiam, MoCo v3). */
  lastBn: boolean;
  /** > 0: DINO's prototype layer (L2-normalised bottleneck → weight-normalised Linear to K prototypes). */
  prototypes: number;
}

export interface EmaConfig {
  parts: EmaParts;
  /** m(0) of the cosine schedule m(t) = final − (final − base)·(cos(πt/T)+1)/2. */
  base: number;
  /** m(T). Equal to base for a constant momentum. */
  final: number;
}

export type ObjectiveName = 'ntxent' | 'infonce' | 'byol' | 'simsiam' | 'dino';

/**
 * What the method computes (design §3): the objective's name and its own options, as the core
 * declares them (`objectives()` lists them with defaults and ranges). ntxent: temperature;
 * infonce: temperature, queueSize, inBatchNegatives; dino: studentTemperature, teacherTemperature,
 * warmupTeacherTemperature, teacherWarmupFraction, centerMomentum; byol, simsiam: none.
 */
export interface ObjectiveConfig {
  name: ObjectiveName;
  [option: string]: string | number | boolean;
}

export interface OptimizerConfig {
  name: 'sgd' | 'lars' | 'adamw';
  /** Base LR after linear warmup; cosine decay to finalLr at totalSteps. */
  lr: number;
  finalLr: number;
  warmupSteps: number;
  momentum: number;
  weightDecay: number;
  nesterov: boolean;
  /** LARS trust coefficient. */
  eta: number;
  /** Biases and norm parameters: no weight decay, no LARS adaptation. */
  excludeBiasAndNorm: boolean;
  beta1: number;
  beta2: number;
  eps: number;
}

export interface SslConfig {
  backbone: BackboneConfig;
  projector: ProjectorConfig;
  /** hiddenDim 0: no predictor (SimCLR, MoCo v2, DINO); BYOL, SimSiam and MoCo v3 use one. */
  predictor: { hiddenDim: number };
  ema: EmaConfig;
  objective: ObjectiveConfig;
  optimizer: OptimizerConfig;
  augment: AugmentConfig;
  /** T of the LR and momentum schedules: optimizer steps of the whole run. */
  totalSteps: number;
  seed: number;
  device: 'cpu' | 'cuda';
  /** Per-part gradient RMS each step (design §5). Off by default; costs nothing when off. */
  gradMonitor: { enabled: boolean };
  /**
   * Channels-last (NHWC) convolutions in training, the key branch and embed (oneDNN's preferred
   * layout; `npm run bench -- --only channelsLast` measures it). Results equal NCHW within fp32
   * rounding; checkpoints and exports are NCHW either way.
   */
  channelsLast: boolean;
  /** Parameter dtype; 'float64' for exactness checks (it is several times slower). */
  dtype: 'float32' | 'float64';
  /** Read only when the model joins a process group (SslModel.setProcessGroup; design §9). */
  dataParallel: {
    /**
     * BatchNorm statistics over the whole data-parallel batch (all ranks), as one process with
     * the concatenated batch would compute them. Off: each rank normalises its own batch, and
     * rank 0's running statistics are broadcast every step (DDP's broadcast_buffers).
     */
    syncBatchNorm: boolean;
    /** Gradients are all-reduced in flat buckets of at most this many bytes (DDP's 25 MiB). */
    bucketBytes: number;
  };
}

export type DeepPartial<T> = { [K in keyof T]?: T[K] extends readonly unknown[] ? T[K] : T[K] extends object ? DeepPartial<T[K]> : T[K] };

function deepFreeze<T>(x: T): T {
  if (x !== null && typeof x === 'object') {
    for (const v of Object.values(x as object)) deepFreeze(v);
    Object.freeze(x);
  }
  return x;
}

let defaults: SslConfig | null = null;
let objectiveSpecs: readonly NativeObjectiveSpec[] | null = null;

/** The defaults of every field, as the core defines them (frozen). */
export function defaultSslConfig(): SslConfig {
  if (defaults === null) defaults = deepFreeze(binding().defaultConfig() as SslConfig);
  return defaults;
}

/** Every objective with its needs and options (name, kind, default, range, doc). */
export function objectives(): readonly NativeObjectiveSpec[] {
  if (objectiveSpecs === null) objectiveSpecs = deepFreeze(binding().objectives());
  return objectiveSpecs;
}

/** The objective section with `name`'s declared defaults. */
export function objectiveDefaults(name: string): ObjectiveConfig {
  const spec = objectives().find((o) => o.name === name);
  if (!spec) throw new TypeError(`objective.name must be one of ${objectives().map((o) => o.name).join(', ')}; got '${name}'`);
  return Object.fromEntries([['name', name], ...spec.options.map((o) => [o.name, o.default])]) as ObjectiveConfig;
}

// Tag-based, not prototype-based: objects may come from another realm (worker, vm, jest).
function isPlainObject(x: unknown): x is Record<string, unknown> {
  return Object.prototype.toString.call(x) === '[object Object]';
}

function cloneData<T>(x: T): T {
  if (Array.isArray(x)) return x.map(cloneData) as T;
  if (isPlainObject(x)) return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, cloneData(v)])) as T;
  return x;
}

// reliability #13: a plain object of its own (Object.prototype or null as prototype, from any
// realm); an object inheriting from another one would have its inherited keys silently ignored.
function isOwnDataObject(x: unknown): x is Record<string, unknown> {
  if (!isPlainObject(x)) return false;
  const proto = Object.getPrototypeOf(x) as object | null;
  return proto === null || Object.getPrototypeOf(proto) === null;
}

/**
 * Deep-merges `override` onto `base` (arrays and scalars replace; undefined keeps the base).
 * Shapes and values are checked by the core when the model is built; here only the merge:
 * unknown keys pass through so that the core names them with the known ones. An `objective`
 * section that names another objective starts from that objective's defaults.
 */
export function mergeConfig<T extends object>(base: T, override: DeepPartial<T> | undefined, path = 'config'): T {
  if (override === undefined) return cloneData(base);
  if (!isOwnDataObject(override)) {
    throw new TypeError(`${path} must be a plain object (a literal or JSON), got ${isPlainObject(override) ? 'an object inheriting from another object' : describeValue(override)}`);
  }
  const out = cloneData(base) as Record<string, unknown>;
  for (const [k, v] of Object.entries(override)) {
    if (v === undefined) continue;
    // Assigning it would replace the prototype instead of setting an option.
    if (k === '__proto__') throw new TypeError(`${path}.__proto__ is not a known option`);
    let cur = out[k];
    if (k === 'objective' && path === 'config' && isPlainObject(v) && typeof v.name === 'string' && isPlainObject(cur) && v.name !== cur.name) {
      cur = objectiveDefaults(v.name);
    }
    out[k] = isPlainObject(cur) && isPlainObject(v) ? mergeConfig(cur, v as DeepPartial<typeof cur>, `${path}.${k}`) : cloneData(v);
  }
  return out as T;
}

function describeValue(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'an array';
  return typeof x === 'object' ? Object.prototype.toString.call(x) : `${typeof x} ${String(x)}`;
}

/** Defaults ← `config`: the full config a model is built from. */
export function resolveSslConfig(config?: DeepPartial<SslConfig>): SslConfig {
  return mergeConfig(defaultSslConfig(), config);
}
