// The typed configuration of an SSL model and its training step, with every default in one
// place (DEFAULT_SSL_CONFIG). Methods (lib/methods/) are presets over this; users override any
// field with a deep-partial object.
import { AugmentConfig, AUGMENT_DEFAULTS } from './augment';

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

export interface EmaConfig {
  parts: EmaParts;
  /** m(0) of the cosine schedule m(t) = final − (final − base)·(cos(πt/T)+1)/2. */
  base: number;
  /** m(T). Equal to base for a constant momentum. */
  final: number;
}

export interface LossConfig {
  name: 'ntxent' | 'infonce' | 'byol';
  /** τ of NT-Xent / InfoNCE, > 0. */
  temperature: number;
  /** InfoNCE: size K of the negative-key queue (0 = none). */
  queueSize: number;
  /** InfoNCE: other keys of the batch are negatives too (MoCo v3). */
  inBatchNegatives: boolean;
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
  projector: { hiddenDim: number; outDim: number };
  /** hiddenDim 0: no predictor (SimCLR, MoCo v2); BYOL and MoCo v3 use one. */
  predictor: { hiddenDim: number };
  ema: EmaConfig;
  loss: LossConfig;
  optimizer: OptimizerConfig;
  augment: AugmentConfig;
  /** T of the LR and momentum schedules: optimizer steps of the whole run. */
  totalSteps: number;
  seed: number;
  device: 'cpu' | 'cuda';
  /** Per-part gradient RMS each step (design §5). Off by default; costs nothing when off. */
  gradMonitor: { enabled: boolean };
}

export const DEFAULT_SSL_CONFIG: SslConfig = {
  // The CPU-scale model of this package: width-0.25 ResNet-18 with the CIFAR stem.
  backbone: { depth: 18, stem: 'cifar', inChannels: 3, width: 0.25, zeroInitResidual: false },
  // SimCLR's 2048→128 at full width, scaled down with the backbone.
  projector: { hiddenDim: 512, outDim: 128 },
  predictor: { hiddenDim: 0 },
  ema: { parts: 'none', base: 0.99, final: 1.0 },
  loss: { name: 'ntxent', temperature: 0.2, queueSize: 0, inBatchNegatives: false },
  optimizer: {
    name: 'sgd',
    lr: 0.3,
    finalLr: 0,
    warmupSteps: 0,
    momentum: 0.9,
    weightDecay: 1e-4,
    nesterov: false,
    eta: 0.02,
    excludeBiasAndNorm: true,
    beta1: 0.9,
    beta2: 0.999,
    eps: 1e-8,
  },
  augment: { ...AUGMENT_DEFAULTS, scale: [0.2, 1.0], blurP: 0 } as AugmentConfig,
  totalSteps: 1000,
  seed: 0,
  device: 'cpu',
  gradMonitor: { enabled: false },
};

export type DeepPartial<T> = { [K in keyof T]?: T[K] extends readonly unknown[] ? T[K] : T[K] extends object ? DeepPartial<T[K]> : T[K] };

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

/** Deep-merges `override` onto `base` (arrays and scalars replace). Unknown keys are errors. */
export function mergeConfig<T extends object>(base: T, override: DeepPartial<T> | undefined, path = 'config'): T {
  if (override === undefined) return cloneData(base);
  if (!isOwnDataObject(override)) {
    throw new TypeError(`${path} must be a plain object (a literal or JSON), got ${isPlainObject(override) ? 'an object inheriting from another object' : describeValue(override)}`);
  }
  const out = cloneData(base) as Record<string, unknown>;
  for (const [k, v] of Object.entries(override)) {
    if (v === undefined) continue;
    // Own keys only: 'constructor', 'toString', '__proto__' are in every object's chain.
    if (!Object.prototype.hasOwnProperty.call(out, k)) throw new TypeError(`${path}.${k} is not a known option (known: ${Object.keys(out).join(', ')})`);
    const cur = out[k];
    out[k] = isPlainObject(cur) ? mergeConfig(cur, v as DeepPartial<typeof cur>, `${path}.${k}`) : cloneData(v);
  }
  return out as T;
}

function describeValue(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'an array';
  return typeof x === 'object' ? Object.prototype.toString.call(x) : `${typeof x} ${String(x)}`;
}

/** Resolves 'none' | 'full' | 'projector' | list into the list of parts, validating names. */
export function resolveEmaParts(parts: EmaParts): PartName[] {
  if (parts === 'none') return [];
  if (parts === 'full') return [...PART_NAMES];
  if (parts === 'projector') return ['projector'];
  if (!Array.isArray(parts)) throw new TypeError(`ema.parts must be 'none', 'full', 'projector' or an array of part names`);
  const seen = new Set<string>();
  for (const p of parts) {
    if (!(PART_NAMES as readonly string[]).includes(p)) {
      throw new TypeError(`ema.parts: unknown part '${String(p)}'; allowed: ${PART_NAMES.join(', ')}`);
    }
    if (seen.has(p)) throw new TypeError(`ema.parts: part '${p}' is listed twice`);
    seen.add(p);
  }
  return PART_NAMES.filter((p) => seen.has(p));
}
