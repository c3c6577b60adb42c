// pretrain(): the end-to-end training recipe every front end (CLI, demo, reproduce) uses — open
// the data, build the method's config with schedules spanning the run, and train with the
// Trainer (progress, metrics, checkpoints, resume, AbortSignal).
import * as fs from 'fs';
import * as path from 'path';

import type { SslConfig } from '../config';
import type { ImageDataset } from '../data/dataset';
import { openDataset, seededSubset } from '../data/open';
import type { ProcessGroup } from '../distributed/processGroup';
import { checkInt, ConfigError } from '../errors';
import { EVALUATE_DEFAULTS, EvaluateOptions } from '../eval/representation';
import type { SslModel } from '../model';
import { setNumThreads } from '../runtime';
import type { ProgressMode } from './progress';
import { checkMethod, createModel, runConfig, RunConfigOptions } from './runConfig';
import { acquireRunLock, RunLock } from './lock';
import { checkResumable, readRunInfo, RunInfo, writeRunInfo } from './runInfo';
import type { Tensor } from '../tensor';
import { DEFAULT_TRAINER_CONFIG, FitResult, ProbeEvent, StepEvent, totalSteps, Trainer, TrainingWarning } from './trainer';

export interface PretrainOptions extends RunConfigOptions {
  /** A name from DATASET_NAMES, a folder path, or an ImageDataset you own (not disposed here). */
  dataset: string | ImageDataset;
  /** Folder of a named dataset (default: its standard location; required for cifar10/cifar100). */
  dataDir?: string;
  epochs: number;
  /** Explicit optimizer-step budget; when set, epochs is derived (ceil) and the schedules span exactly these steps. */
  steps?: number;
  batchSize: number;
  /** Train on a seeded random subset of this many images (0 = all). */
  subset: number;
  /** Writes checkpoint.pt, metrics.jsonl and run.json here when set. */
  outDir?: string;
  /** Checkpoint every N steps (0 = only at the end when outDir is set). */
  checkpointEvery: number;
  /** Continue from outDir/checkpoint.pt if it exists. */
  resume: boolean;
  /** Good checkpoints kept in outDir (the Trainer's keepCheckpoints). */
  keepCheckpoints: number;
  progress: ProgressMode;
  /** LibTorch intra-op threads (undefined: leave as is). */
  threads?: number;
  signal?: AbortSignal;
  onStep?: (event: StepEvent) => void;
  /** Gradient probe every N steps on a fixed batch (the Trainer's probe; logged in metrics.jsonl). */
  probe?: { images: Tensor; every: number };
  onProbe?: (event: ProbeEvent) => void;
  /** Divergence warnings (loss at chance level, exploding gradients): training goes on. */
  onWarning?: (warning: TrainingWarning) => void;
  /**
   * Data-parallel training (design §9; ProcessGroup.init() joins one): batchSize is per rank,
   * `steps` and epochs count global steps, rank 0 alone writes outDir (run.json, checkpoints,
   * metrics; every rank must see outDir to resume).
   */
  processGroup?: ProcessGroup;
}

/** The recipe's own defaults; the loop's (epochs, batch size, seed, ...) are the Trainer's. */
export const PRETRAIN_DEFAULTS: Readonly<Omit<PretrainOptions, 'model' | 'ema' | 'methodOptions' | 'outDir' | 'steps' | 'threads' | 'signal' | 'onStep' | 'onWarning' | 'dataDir' | 'processGroup' | 'probe' | 'onProbe'>> =
  Object.freeze({
    dataset: 'fashion-mnist',
    method: 'simclr',
    subset: 0,
    epochs: DEFAULT_TRAINER_CONFIG.epochs,
    batchSize: DEFAULT_TRAINER_CONFIG.batchSize,
    seed: DEFAULT_TRAINER_CONFIG.seed,
    checkpointEvery: DEFAULT_TRAINER_CONFIG.checkpointEvery,
    resume: DEFAULT_TRAINER_CONFIG.resume,
    keepCheckpoints: DEFAULT_TRAINER_CONFIG.keepCheckpoints,
    progress: DEFAULT_TRAINER_CONFIG.progress,
  });

/** Every default of the recipe, in one place: pretraining and evaluation. */
export const RUN_DEFAULTS: { readonly pretrain: typeof PRETRAIN_DEFAULTS; readonly evaluate: Readonly<EvaluateOptions> } = Object.freeze({
  pretrain: PRETRAIN_DEFAULTS,
  evaluate: EVALUATE_DEFAULTS,
});

/** One line of the training history (what the report plots). */
export interface StepRecord {
  step: number;
  loss: number;
  lr: number;
  momentum: number;
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
  /** Frees the model, the dataset if pretrain() loaded it, and the lock on outDir. */
  dispose(): void;
}

export async function pretrain(options: Partial<PretrainOptions> & Pick<PretrainOptions, 'dataset'>): Promise<PretrainResult> {
  const o: PretrainOptions = { ...PRETRAIN_DEFAULTS, ...definedOnly(options) } as PretrainOptions;
  checkInt('batchSize', o.batchSize, 2);
  checkInt('epochs', o.epochs, 1);
  checkInt('subset', o.subset, 0);
  checkInt('checkpointEvery', o.checkpointEvery, 0);
  checkInt('keepCheckpoints', o.keepCheckpoints, 1);
  if (o.steps !== undefined) checkInt('steps', o.steps, 1);
  if (o.probe !== undefined) checkInt('probe.every', o.probe.every, 1);
  if (o.threads !== undefined) setNumThreads(checkInt('threads', o.threads, 1));
  checkMethod(o.method);
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
  let lock: RunLock | undefined;
  const world = o.processGroup?.worldSize ?? 1;
  const main = !o.processGroup || o.processGroup.isMain;
  try {
    // One writer per folder, taken before any file in it is touched and held until dispose()
    // (the CLI still writes backbone.pt after training) (reliability #13). Rank 0 is the writer.
    lock = o.outDir && main ? acquireRunLock(o.outDir) : undefined;
    const share = Math.floor(data.length / world);
    if (o.batchSize > share) {
      throw new ConfigError(`batchSize ${o.batchSize} is larger than the training set${world > 1 ? `'s share of each of the ${world} ranks (${share} of ${data.length} images)` : ` (${data.length} images)`}`);
    }
    const perEpoch = totalSteps(share, o.batchSize, 1, true);
    const epochs = o.steps !== undefined ? Math.ceil(o.steps / perEpoch) : o.epochs;
    const steps = o.steps ?? perEpoch * epochs;
    const config = runConfig(o, data, steps);
    model = createModel(config);

    const paths: PretrainResult['paths'] = {};
    if (o.outDir) {
      if (main) fs.mkdirSync(o.outDir, { recursive: true });
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
        ...(world > 1 ? { worldSize: world } : {}),
      };
      // Half-written files of a killed run (the Trainer cleans its own: checkpoint, metrics).
      if (main) for (const f of [paths.runInfo, path.join(o.outDir, 'backbone.pt')]) fs.rmSync(`${f}.tmp`, { force: true });
      if (main && o.resume && fs.existsSync(paths.checkpoint)) checkResumable(paths.runInfo, resharded(paths.runInfo, info));
      if (main) writeRunInfo(paths.runInfo, info);
      else delete paths.runInfo;
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
      keepCheckpoints: o.keepCheckpoints,
      resume: o.resume,
      metricsPath: paths.metrics,
      progress: o.progress,
      signal: o.signal,
      processGroup: o.processGroup,
      ...(o.probe ? { probe: o.probe } : {}),
    });
    const history: StepRecord[] = [];
    trainer.on('step', (ev: StepEvent) => {
      history.push({ step: ev.step, loss: ev.loss, lr: ev.lr, momentum: ev.momentum });
      o.onStep?.(ev);
    });
    trainer.on('probe', (ev: ProbeEvent) => o.onProbe?.(ev));
    trainer.on('warning', (w: TrainingWarning) => o.onWarning?.(w));
    const fit = await trainer.fit();
    const m = model;
    const held = lock;
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
        held?.release();
      },
    };
  } catch (e) {
    lock?.release();
    model?.dispose();
    if (ownsData) data.dispose();
    throw e;
  }
}

/**
 * The run description to compare a resume against: with augment.perSample a run may continue
 * on another number of processes at the same global batch (design §9), so then the old world
 * size and per-process batch stand in for the new ones.
 */
function resharded(file: string, next: RunInfo): RunInfo {
  if (!fs.existsSync(file) || !next.config.augment.perSample) return next;
  const prev = readRunInfo(file);
  const [pw, nw] = [prev.worldSize ?? 1, next.worldSize ?? 1];
  if (pw === nw || prev.batchSize * pw !== next.batchSize * nw) return next;
  const out: RunInfo = { ...next, batchSize: prev.batchSize };
  if (prev.worldSize === undefined) delete out.worldSize;
  else out.worldSize = prev.worldSize;
  return out;
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
