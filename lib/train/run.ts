// The end-to-end recipe every front end (CLI, demo, scripts) uses: open a dataset by name or path,
// build the method's config with schedules spanning the run, train with the Trainer (progress,
// metrics, checkpoints, resume, AbortSignal), and evaluate the representation against raw pixels.
import * as fs from 'fs';
import * as path from 'path';

import { DeepPartial, EmaParts, SslConfig } from '../config';
import { loadCifar10, loadCifar100 } from '../data/cifar';
import { DatasetError, ImageDataset } from '../data/dataset';
import { loadImageFolder } from '../data/folder';
import { loadIdx } from '../data/idx';
import { FASHION_MNIST_CLASSES, loadDataset, Split } from '../data/sources';
import { knnClassify } from '../eval/knn';
import { linearProbe, LinearProbeOptions, LinearProbeResult } from '../eval/linearProbe';
import { pixelFeatures } from '../eval/pixels';
import { AnyMethodOptions, configFor, getMethod } from '../methods/registry';
import { SslModel } from '../model';
import { setNumThreads } from '../runtime';
import { Tensor } from '../tensor';
import { ProgressMode } from './progress';
import { FitResult, StepEvent, totalSteps, Trainer } from './trainer';

/** Datasets known by name; anything else is taken as a path (IDX folder, CIFAR folder, image folder). */
export const DATASET_NAMES = ['fashion-mnist', 'mnist', 'cifar10', 'cifar100'] as const;

export interface PretrainOptions {
  /** A name from DATASET_NAMES, a folder path, or an ImageDataset you own (not disposed here). */
  dataset: string | ImageDataset;
  /** Folder of a named dataset (default: its standard location; required for cifar10/cifar100). */
  dataDir?: string;
  /** Method name from the registry (simclr, moco, byol). */
  method: string;
  /** EMA wiring passed to the method: 'none' | 'full' | 'projector' | a list of parts. */
  ema?: EmaParts;
  /** Further method options (e.g. { variant: 'v3' } or { queueSize } for moco). */
  methodOptions?: AnyMethodOptions;
  /** Overrides of the SslConfig, merged last. backbone.inChannels and augment.outSize default to the data's. */
  model?: DeepPartial<SslConfig>;
  epochs: number;
  /** Explicit optimizer-step budget; when set, epochs is derived (ceil) and the schedules span exactly these steps. */
  steps?: number;
  batchSize: number;
  /** Train on a seeded random subset of this many images (0 = all). */
  subset: number;
  /** Seed of the model, augmentations, subset and batch order. */
  seed: number;
  /** Writes checkpoint.pt, metrics.jsonl and run.json here when set. */
  outDir?: string;
  /** Checkpoint every N steps (0 = only at the end when outDir is set). */
  checkpointEvery: number;
  /** Continue from outDir/checkpoint.pt if it exists. */
  resume: boolean;
  progress: ProgressMode;
  /** LibTorch intra-op threads (undefined: leave as is). */
  threads?: number;
  signal?: AbortSignal;
  onStep?: (event: StepEvent) => void;
}

export interface EvaluateOptions {
  /** kNN neighbours (design §7: 200). */
  k: number;
  /** kNN vote temperature (design §7: 0.1). */
  temperature: number;
  /** Run the linear probe (options passed through), or false to skip it. */
  linearProbe: boolean | LinearProbeOptions;
  /** Evaluate raw pixels with the same evaluators as the baseline. */
  pixels: boolean;
}

/** Every default of the recipe, in one place. */
export const RUN_DEFAULTS: { readonly pretrain: Readonly<Omit<PretrainOptions, 'dataset'>>; readonly evaluate: Readonly<EvaluateOptions> } = Object.freeze({
  pretrain: Object.freeze({
    method: 'simclr',
    epochs: 1,
    batchSize: 256,
    subset: 0,
    seed: 0,
    checkpointEvery: 0,
    resume: false,
    progress: 'auto' as ProgressMode,
  }),
  evaluate: Object.freeze({ k: 200, temperature: 0.1, linearProbe: true, pixels: true }),
});

/** One line of the training history (what the report plots). */
export interface StepRecord {
  step: number;
  loss: number;
  lr: number;
  momentum: number;
}

/** Written to outDir/run.json: everything needed to rebuild the model for eval/embed. */
export interface RunInfo {
  format: 'momentum-ssl-run';
  version: 1;
  method: string;
  ema?: EmaParts;
  dataset: string;
  dataDir?: string;
  subset: number;
  seed: number;
  batchSize: number;
  epochs: number;
  steps: number;
  config: SslConfig;
}

export interface PretrainResult {
  model: SslModel;
  /** The images trained on (the subset if one was asked for). */
  trainSet: ImageDataset;
  config: SslConfig;
  fit: FitResult;
  history: StepRecord[];
  /** Files written (only with outDir). */
  paths: { checkpoint?: string; metrics?: string; runInfo?: string };
  /** Frees the model, and the dataset if pretrain() loaded it. */
  dispose(): void;
}

export interface FeatureEvaluation {
  featureDim: number;
  knn: { top1: number; top5: number };
  linear?: LinearProbeResult;
  /** Wall time of feature extraction and of each evaluator, ms. */
  ms: { features: number; knn: number; linear: number };
}

export interface RepresentationResult {
  learned: FeatureEvaluation;
  /** The honest baseline: the same evaluators on raw pixels in [0, 1]. */
  pixels?: FeatureEvaluation;
  trainSize: number;
  testSize: number;
  k: number;
  temperature: number;
}

/** A bad option or config (a usage error for front ends; the CLI exits 2). */
export class ConfigError extends Error {
  readonly code = 'ERR_CONFIG';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ConfigError';
  }
}

// ---------------------------------------------------------------------------------------------
// Datasets

export interface OpenDatasetOptions {
  dataDir?: string;
  /** Seeded random subset of this many images (0 or undefined = all). */
  subset?: number;
  seed?: number;
}

function exists(p: string): boolean {
  try {
    fs.statSync(p);
    return true;
  } catch {
    return false;
  }
}

function hasIdx(dir: string, split: Split): boolean {
  const prefix = split === 'train' ? 'train' : 't10k';
  return [`${prefix}-images-idx3-ubyte`, `${prefix}-labels-idx1-ubyte`].every((n) => exists(path.join(dir, n)) || exists(path.join(dir, `${n}.gz`)));
}

function idxPath(dir: string, name: string): string {
  return exists(path.join(dir, `${name}.gz`)) ? path.join(dir, `${name}.gz`) : path.join(dir, name);
}

/**
 * Opens a dataset split by name (fashion-mnist, mnist, cifar10, cifar100) or path: a folder of
 * IDX files (train-/t10k-images-idx3-ubyte[.gz]), of CIFAR-10 binaries, or of class sub-folders
 * (with train/ and test/ inside it, or the folder itself for both splits).
 */
export async function openDataset(spec: string, split: Split = 'train', options: OpenDatasetOptions = {}): Promise<ImageDataset> {
  if (typeof spec !== 'string' || spec === '') throw new ConfigError('dataset must be a name (fashion-mnist, mnist, cifar10, cifar100) or a folder path');
  let ds: ImageDataset;
  const dir = options.dataDir;
  if (spec === 'fashion-mnist' || spec === 'mnist') {
    ds = await loadDataset(spec, split, dir ? { dir } : {});
  } else if (spec === 'cifar10' || spec === 'cifar100') {
    if (!dir) throw new ConfigError(`${spec} needs the folder of its binary files (--data-dir / dataDir)`);
    ds = spec === 'cifar10' ? await loadCifar10(dir, { split }) : await loadCifar100(dir, { split });
  } else {
    let st: fs.Stats;
    try {
      st = fs.statSync(spec);
    } catch {
      throw new DatasetError(`dataset '${spec}' is neither a known name (${DATASET_NAMES.join(', ')}) nor an existing folder`, { file: spec, code: 'ERR_DATASET_MISSING' });
    }
    if (!st.isDirectory()) throw new DatasetError(`${spec}: not a folder (expected IDX files, CIFAR binaries or class sub-folders)`, { file: spec });
    if (hasIdx(spec, split)) {
      const prefix = split === 'train' ? 'train' : 't10k';
      const fashion = /fashion/i.test(spec);
      ds = await loadIdx({
        images: idxPath(spec, `${prefix}-images-idx3-ubyte`),
        labels: idxPath(spec, `${prefix}-labels-idx1-ubyte`),
        numClasses: 10,
        classNames: fashion ? FASHION_MNIST_CLASSES : undefined,
        name: `${path.basename(path.resolve(spec))}/${split}`,
      });
    } else if (exists(path.join(spec, 'data_batch_1.bin')) || exists(path.join(spec, 'cifar-10-batches-bin'))) {
      ds = await loadCifar10(spec, { split });
    } else if (exists(path.join(spec, 'train.bin')) || exists(path.join(spec, 'cifar-100-binary'))) {
      ds = await loadCifar100(spec, { split });
    } else {
      const sub = path.join(spec, split);
      ds = await loadImageFolder(exists(sub) && fs.statSync(sub).isDirectory() ? sub : spec, { name: `${path.basename(path.resolve(spec))}/${split}` });
    }
  }
  const n = options.subset ?? 0;
  if (!Number.isInteger(n) || n < 0) {
    ds.dispose();
    throw new ConfigError(`subset must be an integer >= 0, got ${String(n)}`);
  }
  if (n > 0 && n < ds.length) {
    try {
      return ds.subset(seededSubset(ds.length, n, options.seed ?? 0), `${ds.name}[${n}]`);
    } finally {
      ds.dispose();
    }
  }
  return ds;
}

/** `count` distinct indices of 0..size-1, a seeded random choice (sorted). */
export function seededSubset(size: number, count: number, seed: number): Int32Array {
  const idx = Int32Array.from({ length: size }, (_, i) => i);
  let s = (seed >>> 0) ^ 0x9e3779b9;
  const rand = (): number => {
    // mulberry32
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const k = Math.min(count, size);
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(rand() * (size - i));
    const t = idx[i];
    idx[i] = idx[j];
    idx[j] = t;
  }
  return idx.subarray(0, k).sort();
}

// ---------------------------------------------------------------------------------------------
// Config

function checkInt(name: string, v: unknown, min: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new ConfigError(`${name} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
  return v;
}

/** The SslConfig of a run: defaults ← method preset ← data-derived fields ← user overrides; totalSteps = the run's steps. */
export function runConfig(
  options: Pick<PretrainOptions, 'method' | 'ema' | 'methodOptions' | 'model' | 'seed'>,
  data: { sampleShape: [number, number, number] },
  steps: number,
): SslConfig {
  getMethodOrConfigError(options.method);
  const [c, h] = data.sampleShape;
  if (c !== 1 && c !== 3) throw new ConfigError(`images have ${c} channels; only 1 or 3 are supported`);
  const over = options.model ?? {};
  if (over === null || typeof over !== 'object' || Array.isArray(over)) throw new ConfigError('model config overrides must be an object');
  const isObj = (x: unknown): x is object => x !== null && typeof x === 'object' && !Array.isArray(x);
  if (over.backbone !== undefined && !isObj(over.backbone)) throw new ConfigError('config.backbone must be an object');
  if (over.augment !== undefined && !isObj(over.augment)) throw new ConfigError('config.augment must be an object');
  const merged: DeepPartial<SslConfig> = {
    ...over,
    backbone: { inChannels: c as 1 | 3, ...(over.backbone ?? {}) },
    augment: { outSize: h, ...(over.augment ?? {}) },
    seed: over.seed ?? options.seed,
    // The LR and momentum schedules must span the run whatever the overrides say.
    totalSteps: steps,
  };
  const methodOptions = { ...(options.methodOptions ?? {}), ...(options.ema !== undefined ? { ema: options.ema } : {}) };
  try {
    return configFor(options.method, methodOptions, merged);
  } catch (e) {
    throw asConfigError(e);
  }
}

function getMethodOrConfigError(name: string): void {
  try {
    getMethod(name);
  } catch (e) {
    throw asConfigError(e);
  }
}

function asConfigError(e: unknown): Error {
  if (e instanceof ConfigError) return e;
  const err = e as Error & { code?: string };
  if (err && (err.name === 'TypeError' || err.name === 'RangeError')) return new ConfigError(err.message, { cause: e });
  return err;
}

/** Builds the model, turning native config validation errors into ConfigErrors. */
export function createModel(config: SslConfig): SslModel {
  try {
    return SslModel.create(config);
  } catch (e) {
    throw asConfigError(e);
  }
}

// ---------------------------------------------------------------------------------------------
// Pretraining

/** Loads the data, builds the method's model and trains it. Dispose the result when done. */
export async function pretrain(options: Partial<PretrainOptions> & Pick<PretrainOptions, 'dataset'>): Promise<PretrainResult> {
  const o: PretrainOptions = { ...RUN_DEFAULTS.pretrain, ...stripUndefined(options) } as PretrainOptions;
  checkInt('batchSize', o.batchSize, 2);
  checkInt('epochs', o.epochs, 1);
  checkInt('subset', o.subset, 0);
  checkInt('checkpointEvery', o.checkpointEvery, 0);
  if (o.steps !== undefined) checkInt('steps', o.steps, 1);
  if (o.threads !== undefined) setNumThreads(checkInt('threads', o.threads, 1));
  getMethodOrConfigError(o.method);
  if (o.resume && !o.outDir) throw new ConfigError('resume needs outDir (the folder holding checkpoint.pt)');

  const owned = typeof o.dataset === 'string';
  let data: ImageDataset;
  if (typeof o.dataset === 'string') {
    data = await openDataset(o.dataset, 'train', { dataDir: o.dataDir, subset: o.subset, seed: o.seed });
  } else {
    data = o.subset > 0 && o.subset < o.dataset.length ? o.dataset.subset(seededSubset(o.dataset.length, o.subset, o.seed)) : o.dataset;
  }
  const ownsData = owned || data !== o.dataset;
  let model: SslModel | undefined;
  try {
    if (o.batchSize > data.length) throw new ConfigError(`batchSize ${o.batchSize} is larger than the training set (${data.length} images)`);
    const perEpoch = totalSteps(data.length, o.batchSize, 1, true);
    const epochs = o.steps !== undefined ? Math.ceil(o.steps / perEpoch) : o.epochs;
    const steps = o.steps ?? perEpoch * epochs;
    const config = runConfig(o, data, steps);
    model = createModel(config);

    const paths: PretrainResult['paths'] = {};
    if (o.outDir) {
      fs.mkdirSync(o.outDir, { recursive: true });
      paths.checkpoint = path.join(o.outDir, 'checkpoint.pt');
      paths.metrics = path.join(o.outDir, 'metrics.jsonl');
      paths.runInfo = path.join(o.outDir, 'run.json');
      const info: RunInfo = {
        format: 'momentum-ssl-run',
        version: 1,
        method: o.method,
        ...(o.ema !== undefined ? { ema: o.ema } : {}),
        dataset: typeof o.dataset === 'string' ? o.dataset : o.dataset.name,
        ...(o.dataDir ? { dataDir: path.resolve(o.dataDir) } : {}),
        subset: o.subset,
        seed: o.seed,
        batchSize: o.batchSize,
        epochs,
        steps,
        config,
      };
      writeFileAtomic(paths.runInfo, JSON.stringify(info, null, 2) + '\n');
    }
    const trainer = new Trainer(model, data, {
      epochs,
      batchSize: o.batchSize,
      dropLast: true,
      seed: o.seed,
      maxSteps: steps,
      // With an outDir there is always a checkpoint at the end (the trainer writes one when checkpointEvery > 0).
      checkpointEvery: paths.checkpoint ? o.checkpointEvery || steps : 0,
      checkpointPath: paths.checkpoint,
      resume: o.resume,
      metricsPath: paths.metrics,
      progress: o.progress,
      signal: o.signal,
    });
    const history: StepRecord[] = [];
    trainer.on('step', (ev: StepEvent) => {
      history.push({ step: ev.step, loss: ev.loss, lr: ev.lr, momentum: ev.momentum });
      o.onStep?.(ev);
    });
    const fit = await trainer.fit();
    const m = model;
    return {
      model: m,
      trainSet: data,
      config,
      fit,
      history,
      paths,
      dispose() {
        m.dispose();
        if (ownsData) data.dispose();
      },
    };
  } catch (e) {
    model?.dispose();
    if (ownsData) data.dispose();
    throw e;
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function writeFileAtomic(file: string, text: string): void {
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

/** Reads a run.json written by pretrain(). */
export function readRunInfo(file: string): RunInfo {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ConfigError(`${file}: ${code === 'ENOENT' ? 'run description not found (written by pretrain next to checkpoint.pt)' : (e as Error).message}`);
  }
  let info: RunInfo;
  try {
    info = JSON.parse(text) as RunInfo;
  } catch (e) {
    throw new ConfigError(`${file}: not valid JSON (${(e as Error).message})`);
  }
  if (!info || info.format !== 'momentum-ssl-run' || typeof info.config !== 'object' || info.config === null) {
    throw new ConfigError(`${file}: not a momentum-ssl run description (format 'momentum-ssl-run' expected)`);
  }
  return info;
}

/**
 * Rebuilds the model of a pretrain() run and loads its weights. `checkpoint` is checkpoint.pt or
 * the run folder; the config comes from run.json beside it (or `runInfoPath`).
 */
export async function loadTrainedModel(checkpoint: string, runInfoPath?: string): Promise<{ model: SslModel; run: RunInfo; checkpoint: string }> {
  let ckpt = checkpoint;
  if (exists(ckpt) && fs.statSync(ckpt).isDirectory()) ckpt = path.join(ckpt, 'checkpoint.pt');
  if (!exists(ckpt)) throw new ConfigError(`checkpoint '${checkpoint}' not found`);
  const run = readRunInfo(runInfoPath ?? path.join(path.dirname(ckpt), 'run.json'));
  const model = createModel(run.config);
  try {
    await model.load(ckpt);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return { model, run, checkpoint: ckpt };
}

// ---------------------------------------------------------------------------------------------
// Evaluation

async function evaluateFeatures(trainF: Tensor, trainL: Tensor, testF: Tensor, testL: Tensor, o: EvaluateOptions, numClasses: number, featureMs: number): Promise<FeatureEvaluation> {
  let t = Date.now();
  const knn = await knnClassify(trainF, trainL, testF, testL, { k: o.k, temperature: o.temperature, numClasses });
  knn.predictions.dispose();
  const knnMs = Date.now() - t;
  t = Date.now();
  let linear: LinearProbeResult | undefined;
  if (o.linearProbe !== false) {
    const lp = o.linearProbe === true ? {} : o.linearProbe;
    linear = await linearProbe(trainF, trainL, testF, testL, { numClasses, ...lp });
  }
  return { featureDim: trainF.shape[1], knn: { top1: knn.top1, top5: knn.top5 }, ...(linear ? { linear } : {}), ms: { features: featureMs, knn: knnMs, linear: Date.now() - t } };
}

/**
 * Embeds both splits with the model's backbone (eval mode) and runs weighted kNN and the linear
 * probe on them, and, as the baseline, on raw pixels.
 */
export async function evaluateRepresentation(model: SslModel, trainSet: ImageDataset, testSet: ImageDataset, options: Partial<EvaluateOptions> = {}): Promise<RepresentationResult> {
  const o: EvaluateOptions = { ...RUN_DEFAULTS.evaluate, ...stripUndefined(options) };
  checkInt('k', o.k, 1);
  if (!(typeof o.temperature === 'number' && o.temperature > 0)) throw new ConfigError(`temperature must be a number > 0, got ${JSON.stringify(o.temperature)}`);
  const numClasses = Math.max(trainSet.numClasses, testSet.numClasses);
  const tensors: Tensor[] = [];
  try {
    let t = Date.now();
    const trainF = await model.embed(trainSet.images);
    tensors.push(trainF);
    const testF = await model.embed(testSet.images);
    tensors.push(testF);
    const learned = await evaluateFeatures(trainF, trainSet.labels, testF, testSet.labels, o, numClasses, Date.now() - t);
    let pixels: FeatureEvaluation | undefined;
    if (o.pixels) {
      t = Date.now();
      const trainP = await pixelFeatures(trainSet.images);
      tensors.push(trainP);
      const testP = await pixelFeatures(testSet.images);
      tensors.push(testP);
      pixels = await evaluateFeatures(trainP, trainSet.labels, testP, testSet.labels, o, numClasses, Date.now() - t);
    }
    return { learned, ...(pixels ? { pixels } : {}), trainSize: trainSet.length, testSize: testSet.length, k: o.k, temperature: o.temperature };
  } finally {
    for (const x of tensors) x.dispose();
  }
}
