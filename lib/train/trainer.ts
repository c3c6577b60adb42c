// Trainer.fit(): epochs of seeded batches through SslModel.step(), with events, an AbortSignal,
// progress output, a JSONL metrics log, atomic checkpoints and exact resume.
import { EventEmitter } from 'events';
import * as fs from 'fs';
import * as path from 'path';
import type { ImageDataset } from '../data/dataset';
import type { EpochSampler, SamplerState } from '../data/sampler';
import type { SslModel, StepResult } from '../model';
import { disposeAll } from '../tensor';
import { ProgressReporter, ProgressMode } from './progress';

export interface TrainerConfig {
  epochs: number;
  batchSize: number;
  /** Drop the last incomplete batch of each epoch (default true: contrastive losses want full batches). */
  dropLast: boolean;
  /** Seed of the epoch permutations. */
  seed: number;
  /** Write a checkpoint every N optimizer steps (0 = never) to checkpointPath. */
  checkpointEvery: number;
  checkpointPath?: string;
  /** Resume from checkpointPath if it exists. */
  resume: boolean;
  /** JSONL file receiving one line per step (and per eval). */
  metricsPath?: string;
  progress: ProgressMode;
  /** Run `evaluate` every N epochs (0 = never). */
  evalEvery: number;
  evaluate?: (model: SslModel, epoch: number) => Promise<Record<string, number>>;
  /** Stop after this many optimizer steps in total (for budgets and tests). */
  maxSteps?: number;
  signal?: AbortSignal;
}

export const DEFAULT_TRAINER_CONFIG: TrainerConfig = {
  epochs: 1,
  batchSize: 256,
  dropLast: true,
  seed: 0,
  checkpointEvery: 0,
  resume: false,
  progress: 'auto',
  evalEvery: 0,
};

export interface StepEvent extends StepResult {
  epoch: number;
  /** Batch index within the epoch. */
  batch: number;
}

export interface FitResult {
  steps: number;
  epochs: number;
  losses: number[];
  aborted: boolean;
  elapsedMs: number;
  resumedFrom?: number;
}

interface CheckpointExtra {
  version: 1;
  sampler: SamplerState;
}

/** Optimizer steps of a run: what SslConfig.totalSteps must be for the schedules to span it. */
export function totalSteps(datasetSize: number, batchSize: number, epochs: number, dropLast = true): number {
  const per = dropLast ? Math.floor(datasetSize / batchSize) : Math.ceil(datasetSize / batchSize);
  return per * epochs;
}

export class Trainer extends EventEmitter {
  readonly config: TrainerConfig;
  private readonly model: SslModel;
  private readonly data: ImageDataset;

  constructor(model: SslModel, data: ImageDataset, config: Partial<TrainerConfig> = {}) {
    super();
    this.config = { ...DEFAULT_TRAINER_CONFIG, ...config };
    const c = this.config;
    if (!Number.isInteger(c.epochs) || c.epochs < 1) throw new RangeError(`epochs must be an integer >= 1, got ${c.epochs}`);
    if (!Number.isInteger(c.batchSize) || c.batchSize < 2) throw new RangeError(`batchSize must be an integer >= 2, got ${c.batchSize}`);
    if (c.batchSize > data.length) throw new RangeError(`batchSize ${c.batchSize} is larger than the dataset (${data.length} images)`);
    if (!Number.isInteger(c.checkpointEvery) || c.checkpointEvery < 0) throw new RangeError('checkpointEvery must be an integer >= 0');
    if (c.checkpointEvery > 0 && !c.checkpointPath) throw new TypeError('checkpointEvery needs checkpointPath');
    if (c.resume && !c.checkpointPath) throw new TypeError('resume needs checkpointPath');
    this.model = model;
    this.data = data;
  }

  /** Optimizer steps this run will make (the model's totalSteps should equal it). */
  get plannedSteps(): number {
    const all = totalSteps(this.data.length, this.config.batchSize, this.config.epochs, this.config.dropLast);
    return this.config.maxSteps === undefined ? all : Math.min(all, this.config.maxSteps);
  }

  async fit(): Promise<FitResult> {
    const c = this.config;
    const t0 = Date.now();
    const sampler = this.data.sampler({ batchSize: c.batchSize, seed: c.seed, dropLast: c.dropLast });
    let resumedFrom: number | undefined;
    if (c.resume && c.checkpointPath && fs.existsSync(c.checkpointPath)) {
      const extra = JSON.parse(await this.model.load(c.checkpointPath)) as CheckpointExtra;
      sampler.setState(extra.sampler);
      resumedFrom = this.model.summary().step;
      this.emit('resume', { step: resumedFrom, path: c.checkpointPath });
    }
    const metrics = c.metricsPath ? openLog(c.metricsPath, resumedFrom) : null;
    const total = totalSteps(this.data.length, c.batchSize, c.epochs, c.dropLast);
    const budget = c.maxSteps === undefined ? total : Math.min(total, c.maxSteps);
    const progress = new ProgressReporter(c.progress, budget, resumedFrom ?? 0);
    const losses: number[] = [];
    let aborted = false;
    let step = resumedFrom ?? 0;
    let lastCheckpoint = -1;
    try {
      while (sampler.epoch < c.epochs && step < budget) {
        if (c.signal?.aborted) {
          aborted = true;
          break;
        }
        const { epoch, position } = sampler.state();
        const batch = this.data.batch(sampler.next());
        let r: StepResult;
        try {
          r = await this.model.step(batch.images, batch.index);
        } finally {
          disposeAll(batch);
        }
        step = r.step;
        losses.push(r.loss);
        const ev: StepEvent = { ...r, epoch, batch: position };
        this.emit('step', ev);
        metrics?.write(JSON.stringify({ type: 'step', time: Date.now(), ...ev }) + '\n');
        progress.update(step, r.loss);
        // Epoch-end evaluation before the checkpoint of the same step: a run resumed from that
        // checkpoint never skips an evaluation that was due.
        if (sampler.epoch !== epoch) {
          this.emit('epoch', { epoch, step });
          if (c.evalEvery > 0 && c.evaluate && (epoch + 1) % c.evalEvery === 0) await this.runEval(epoch, step, metrics);
        }
        if (c.checkpointEvery > 0 && step % c.checkpointEvery === 0) {
          await this.checkpoint(sampler);
          lastCheckpoint = step;
        }
      }
      // The final state, unless the periodic checkpoint of this very step already holds it.
      if (!aborted && c.checkpointEvery > 0 && lastCheckpoint !== step) await this.checkpoint(sampler);
    } finally {
      progress.stop();
      await metrics?.close();
    }
    return { steps: step, epochs: sampler.epoch, losses, aborted, elapsedMs: Date.now() - t0, resumedFrom };
  }

  private async checkpoint(sampler: EpochSampler): Promise<void> {
    const extra: CheckpointExtra = { version: 1, sampler: sampler.state() };
    const p = this.config.checkpointPath!;
    fs.mkdirSync(path.dirname(path.resolve(p)), { recursive: true });
    await this.model.save(p, JSON.stringify(extra));
    this.emit('checkpoint', { path: p, step: this.model.summary().step });
  }

  private async runEval(epoch: number, step: number, metrics: MetricsLog | null): Promise<void> {
    const result = await this.config.evaluate!(this.model, epoch);
    this.emit('eval', { epoch, step, ...result });
    metrics?.write(JSON.stringify({ type: 'eval', time: Date.now(), epoch, step, ...result }) + '\n');
  }
}

interface MetricsLog {
  write(line: string): void;
  close(): Promise<void>;
}

/**
 * Opens the JSONL log: truncated for a fresh run; for a run resumed at step `resumedFrom`, the
 * lines of steps after the checkpoint (written by the interrupted run, about to be redone) are
 * dropped so every step appears once.
 */
function openLog(file: string, resumedFrom: number | undefined): MetricsLog {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  if (resumedFrom !== undefined && fs.existsSync(file)) {
    const kept = fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .filter((line) => {
        if (line.trim() === '') return false;
        try {
          const r = JSON.parse(line) as { step?: unknown };
          return typeof r.step !== 'number' || r.step <= resumedFrom;
        } catch {
          return false; // a line cut short by the interruption
        }
      });
    const tmp = `${file}.tmp`;
    fs.writeFileSync(tmp, kept.map((l) => l + '\n').join(''));
    fs.renameSync(tmp, file);
  }
  const stream = fs.createWriteStream(file, { flags: resumedFrom !== undefined ? 'a' : 'w' });
  return {
    write: (line) => void stream.write(line),
    close: () => new Promise((resolve, reject) => stream.end((err?: Error | null) => (err ? reject(err) : resolve()))),
  };
}
