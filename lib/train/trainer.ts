// Trainer.fit(): epochs of seeded batches through SslModel.step(), with events, an AbortSignal,
// progress output, a JSONL metrics log, atomic checkpoints and exact resume.
import { EventEmitter } from 'events';
import * as fs from 'fs';
import * as path from 'path';
import type { ImageDataset } from '../data/dataset';
import type { EpochSampler, SamplerState } from '../data/sampler';
import type { ProcessGroup } from '../distributed/processGroup';
import type { ProbeResult, SslModel, StepResult } from '../model';
import { ioError } from '../errors';
import { disposeAll } from '../tensor';
import type { Tensor } from '../tensor';
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
  /**
   * Good checkpoints kept (>= 1): checkpointPath is the newest, older ones sit beside it as
   * `<name>.step-<N><ext>`, so a checkpoint written just before a divergence never replaces the
   * last good one.
   */
  keepCheckpoints: number;
  /**
   * Emit a 'warning' event when the mean loss of this many steps is at chance level (0 = never).
   * Small batches on hard data can sit near chance for long in a healthy run: it is a warning.
   */
  warnChanceSteps: number;
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
  /**
   * Gradient probe (design §5): after every `every`-th step, model.probe(images) on this fixed
   * batch, emitted as a 'probe' event and logged as a metrics line of type 'probe'.
   */
  probe?: { images: Tensor; every: number };
  /**
   * Data-parallel training (design §9): every rank runs fit() with the same config; batchSize is
   * per rank (the global batch is batchSize × worldSize), each rank takes its DistributedSampler
   * share of every epoch, rank 0 alone writes checkpoints, metrics and progress, and an abort on
   * any rank stops every rank after the same step.
   */
  processGroup?: ProcessGroup;
}

export interface ProbeEvent extends ProbeResult {
  step: number;
}

export const DEFAULT_TRAINER_CONFIG: TrainerConfig = {
  epochs: 1,
  batchSize: 256,
  dropLast: true,
  seed: 0,
  checkpointEvery: 0,
  keepCheckpoints: 2,
  warnChanceSteps: 50,
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
  /** The sampler position only means something at this batch size (absent in older checkpoints). */
  batchSize?: number;
  /** Processes of the run that wrote it (absent: 1). */
  worldSize?: number;
}

function parseExtra(text: string, file: string): CheckpointExtra {
  let extra: CheckpointExtra;
  try {
    extra = JSON.parse(text) as CheckpointExtra;
  } catch {
    throw new TypeError(`${file}: holds no trainer state (saved by model.save() without one?)`);
  }
  if (!extra || typeof extra !== 'object' || !extra.sampler) throw new TypeError(`${file}: holds no trainer state (saved by model.save() without one?)`);
  return extra;
}

/** A warning event: training goes on, but looks wrong. */
export interface TrainingWarning {
  kind: 'chance-loss' | 'gradient-explosion';
  step: number;
  message: string;
}

/** The loss of a model that has learned nothing (uniform logits), or undefined when it has none. */
function chanceLoss(model: SslModel, batchSize: number): number | undefined {
  // batchSize: the global batch (every rank's negatives are gathered).
  const o = model.config.objective;
  if (o.name === 'ntxent') return Math.log(2 * batchSize - 1);
  if (o.name === 'infonce') return Math.log(1 + Number(o.queueSize) + (o.inBatchNegatives === true ? batchSize - 1 : 0));
  return undefined; // byol, simsiam: no negatives; dino: no fixed chance level
}

/**
 * Divergence warnings: the mean loss of the last `steps` steps within 2% of chance level (a
 * learning rate far too high collapses the features and trains at chance without ever producing
 * a NaN; a healthy run leaves chance within a few steps), or a per-part gradient RMS 1000× its
 * first value (only with the gradient monitor on). Each kind is reported once.
 */
class ChanceWatch {
  private readonly recent: number[] = [];
  private firstGrad?: number;
  private readonly told = new Set<TrainingWarning['kind']>();
  constructor(
    private readonly chance: number | undefined,
    private readonly steps: number,
  ) {}
  observe(r: StepResult): TrainingWarning | undefined {
    if (this.chance !== undefined && this.steps > 0 && !this.told.has('chance-loss')) {
      this.recent.push(r.loss);
      if (this.recent.length > this.steps) this.recent.shift();
      const mean = this.recent.reduce((a, b) => a + b, 0) / this.recent.length;
      if (this.recent.length === this.steps && Math.abs(mean - this.chance) < 0.02 * this.chance) {
        this.told.add('chance-loss');
        return { kind: 'chance-loss', step: r.step, message: `the mean loss of the last ${this.steps} steps, ${mean.toFixed(4)}, is at chance level (${this.chance.toFixed(4)}) at lr ${r.lr}: the run is not learning (learning rate too high?)` };
      }
    }
    const g = Math.max(...r.gradRms.map((x) => x ?? 0));
    if (g > 0) {
      this.firstGrad ??= g;
      if (g > 1000 * this.firstGrad && !this.told.has('gradient-explosion')) {
        this.told.add('gradient-explosion');
        return { kind: 'gradient-explosion', step: r.step, message: `gradient RMS ${g.toExponential(2)} is over 1000x its first value (${this.firstGrad.toExponential(2)}) at lr ${r.lr}` };
      }
    }
    return undefined;
  }
}

/**
 * The last `keep` good checkpoints: `file` is the newest; before it is overwritten, the previous
 * one is hard-linked (no copy) to `<name>.step-<N><ext>`. When a step diverges on the very state
 * the newest checkpoint holds, that checkpoint is poisoned: the previous one is moved back.
 */
class CheckpointRing {
  private last?: number; // step held by `file`, when this run wrote or resumed it
  constructor(
    private readonly file: string,
    private readonly keep: number,
  ) {}

  historyPath(step: number): string {
    const ext = path.extname(this.file);
    return `${this.file.slice(0, this.file.length - ext.length)}.step-${step}${ext}`;
  }

  /** Steps of the history files beside `file`, ascending. */
  history(): number[] {
    const dir = path.dirname(path.resolve(this.file));
    const ext = path.extname(this.file);
    const base = path.basename(this.file, ext);
    let names: string[];
    try {
      names = fs.readdirSync(dir);
    } catch {
      return [];
    }
    const prefix = `${base}.step-`;
    return names
      .filter((n) => n.startsWith(prefix) && n.endsWith(ext) && /^\d+$/.test(n.slice(prefix.length, n.length - ext.length)))
      .map((n) => Number(n.slice(prefix.length, n.length - ext.length)))
      .sort((a, b) => a - b);
  }

  /** A fresh run drops another run's history; a resumed one keeps what precedes its step. */
  start(resumedFrom: number | undefined): void {
    this.last = resumedFrom;
    for (const s of this.history()) if (resumedFrom === undefined || s >= resumedFrom) fs.rmSync(this.historyPath(s), { force: true });
  }

  beforeSave(): void {
    if (this.keep < 2 || this.last === undefined || !fs.existsSync(this.file)) return;
    const h = this.historyPath(this.last);
    fs.rmSync(h, { force: true });
    try {
      fs.linkSync(this.file, h);
    } catch {
      fs.copyFileSync(this.file, h); // file systems without hard links
    }
  }

  saved(step: number): void {
    this.last = step;
    const old = this.history().filter((s) => s < step);
    for (const s of old.slice(0, Math.max(0, old.length - (this.keep - 1)))) fs.rmSync(this.historyPath(s), { force: true });
  }

  /** The error to throw for a divergence at `e.step`, naming the last good checkpoint. */
  diverged(e: Error & { step: number }): Error {
    if (this.last !== undefined && this.last >= e.step) {
      // The newest checkpoint holds the state that just diverged: put the previous one back.
      const prev = this.history().filter((s) => s < e.step).at(-1);
      if (prev !== undefined) {
        fs.renameSync(this.historyPath(prev), this.file);
        this.last = prev;
      } else {
        fs.renameSync(this.file, `${this.file}.diverged`);
        this.last = undefined;
      }
    }
    const good = this.last !== undefined ? `last good checkpoint: ${this.file} (step ${this.last})` : 'no good checkpoint was written before it';
    const err = new Error(`${e.message}; ${good}`, { cause: e }) as Error & { code: string; step: number; lr: unknown; checkpoint?: string };
    err.code = 'ERR_DIVERGED';
    err.step = e.step;
    err.lr = (e as unknown as { lr: unknown }).lr;
    if (this.last !== undefined) err.checkpoint = this.file;
    return err;
  }
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
    if (!Number.isInteger(c.keepCheckpoints) || c.keepCheckpoints < 1) throw new RangeError(`keepCheckpoints must be an integer >= 1, got ${c.keepCheckpoints}`);
    if (!Number.isInteger(c.warnChanceSteps) || c.warnChanceSteps < 0) throw new RangeError(`warnChanceSteps must be an integer >= 0, got ${c.warnChanceSteps}`);
    this.model = model;
    this.data = data;
  }

  /** Optimizer steps this run will make (the model's totalSteps should equal it). */
  get plannedSteps(): number {
    const all = totalSteps(Math.floor(this.data.length / (this.config.processGroup?.worldSize ?? 1)), this.config.batchSize, this.config.epochs, this.config.dropLast);
    return this.config.maxSteps === undefined ? all : Math.min(all, this.config.maxSteps);
  }

  async fit(): Promise<FitResult> {
    const c = this.config;
    const t0 = Date.now();
    const pg = c.processGroup && c.processGroup.worldSize > 1 ? c.processGroup : undefined;
    const world = pg?.worldSize ?? 1;
    // Rank 0 alone touches files (checkpoints, their history, metrics) and prints progress.
    const main = !pg || pg.isMain;
    if (pg) {
      if (!c.dropLast) throw new RangeError('data-parallel training needs dropLast: every rank must take the same number of batches');
      // Identical configurations are what make the ranks' collectives line up: compare them first.
      await pg.agree('the training configuration', {
        model: this.model.summary().config,
        datasetSize: this.data.length,
        batchSize: c.batchSize,
        epochs: c.epochs,
        seed: c.seed,
        maxSteps: c.maxSteps ?? null,
        checkpointEvery: c.checkpointEvery,
        resume: c.resume,
      });
      await this.model.setProcessGroup(pg);
    }
    const sampler = this.data.sampler({ batchSize: c.batchSize, seed: c.seed, dropLast: c.dropLast, rank: pg?.rank, worldSize: pg?.worldSize });
    let resumedFrom: number | undefined;
    const ring = c.checkpointPath && main ? new CheckpointRing(c.checkpointPath, c.keepCheckpoints) : undefined;
    // Files a killed writer left half-written are never read; remove them now.
    if (main) for (const f of [c.checkpointPath, c.metricsPath]) if (f) fs.rmSync(`${f}.tmp`, { force: true });
    const found = Boolean(c.resume && c.checkpointPath && fs.existsSync(c.checkpointPath));
    // Every rank reads rank 0's checkpoint: the folder must be shared (one machine, or a shared file system).
    if (pg && c.resume) await pg.agree('the checkpoint to resume', { [`${c.checkpointPath} exists`]: found });
    if (found) {
      const extra = parseExtra(await this.model.load(c.checkpointPath!), c.checkpointPath!);
      const wasWorld = extra.worldSize ?? 1;
      if (wasWorld !== world) {
        // Re-sharding (the native load allowed it: augment.perSample): the sampler position counts
        // global batches, so the global batch must stay what it was.
        if (extra.batchSize === undefined || extra.batchSize * wasWorld !== c.batchSize * world) {
          throw new RangeError(
            `cannot resume ${c.checkpointPath}: it was written by ${wasWorld} process(es) x batch ${extra.batchSize ?? '?'}, this run is ${world} x ${c.batchSize}; ` +
              `a different number of processes must keep the global batch (${extra.batchSize !== undefined ? extra.batchSize * wasWorld : '?'})`,
          );
        }
      } else if (extra.batchSize !== undefined && extra.batchSize !== c.batchSize) {
        throw new RangeError(`cannot resume ${c.checkpointPath}: it was written with batch size ${extra.batchSize}, this run uses ${c.batchSize}`);
      }
      sampler.setState(extra.sampler);
      resumedFrom = this.model.summary().step;
      if (pg) await pg.agree('the resumed step', { step: resumedFrom });
      this.emit('resume', { step: resumedFrom, path: c.checkpointPath });
    }
    ring?.start(resumedFrom);
    const metrics = c.metricsPath && main ? openLog(c.metricsPath, resumedFrom) : null;
    const total = totalSteps(Math.floor(this.data.length / world), c.batchSize, c.epochs, c.dropLast);
    const budget = c.maxSteps === undefined ? total : Math.min(total, c.maxSteps);
    const progress = new ProgressReporter(main ? c.progress : 'none', budget, resumedFrom ?? 0);
    const losses: number[] = [];
    let aborted = false;
    let step = resumedFrom ?? 0;
    let lastCheckpoint = -1;
    const chance = new ChanceWatch(chanceLoss(this.model, c.batchSize * world), c.warnChanceSteps);
    try {
      while (sampler.epoch < c.epochs && step < budget) {
        // One collective decision, so every rank stops after the same step.
        const stop = pg ? await pg.anyTrue(Boolean(c.signal?.aborted)) : Boolean(c.signal?.aborted);
        if (stop) {
          aborted = true;
          break;
        }
        const { epoch, position } = sampler.state();
        const batch = this.data.batch(sampler.next());
        let r: StepResult;
        try {
          r = await this.model.step(batch.images, batch.index);
        } catch (e) {
          throw (e as { code?: string }).code === 'ERR_DIVERGED' && ring ? ring.diverged(e as Error & { step: number }) : e;
        } finally {
          disposeAll(batch);
        }
        step = r.step;
        losses.push(r.loss);
        const ev: StepEvent = { ...r, epoch, batch: position };
        this.emit('step', ev);
        metrics?.write(JSON.stringify({ type: 'step', time: Date.now(), ...ev }) + '\n');
        if (c.probe && step % c.probe.every === 0) {
          const pe: ProbeEvent = { step, ...(await this.model.probe(c.probe.images)) };
          this.emit('probe', pe);
          metrics?.write(JSON.stringify({ type: 'probe', time: Date.now(), ...pe }) + '\n');
        }
        progress.update(step, r.loss);
        const warning = chance.observe(r);
        if (warning) this.emit('warning', warning);
        // Epoch-end evaluation before the checkpoint of the same step: a run resumed from that
        // checkpoint never skips an evaluation that was due.
        if (sampler.epoch !== epoch) {
          this.emit('epoch', { epoch, step });
          if (c.evalEvery > 0 && c.evaluate && (epoch + 1) % c.evalEvery === 0) {
            // Rank 0 evaluates (the weights are the same everywhere); the others wait for it.
            if (main) await this.runEval(epoch, step, metrics);
            await pg?.barrier();
          }
        }
        if (c.checkpointEvery > 0 && step % c.checkpointEvery === 0) {
          await this.checkpoint(sampler, ring);
          lastCheckpoint = step;
        }
      }
      // The final state (also after an abort, so a resume continues from where it stopped),
      // unless the periodic checkpoint of this very step already holds it.
      if (c.checkpointEvery > 0 && lastCheckpoint !== step && step > (resumedFrom ?? 0)) await this.checkpoint(sampler, ring);
    } finally {
      progress.stop();
      await metrics?.close();
    }
    return { steps: step, epochs: sampler.epoch, losses, aborted, elapsedMs: Date.now() - t0, resumedFrom };
  }

  /** Every rank calls it (the native save gathers each rank's augmentation stream); rank 0 (`ring`) writes. */
  private async checkpoint(sampler: EpochSampler, ring: CheckpointRing | undefined): Promise<void> {
    const world = this.config.processGroup?.worldSize ?? 1;
    const extra: CheckpointExtra = { version: 1, sampler: sampler.state(), batchSize: this.config.batchSize, ...(world > 1 ? { worldSize: world } : {}) };
    const p = this.config.checkpointPath!;
    if (ring) fs.mkdirSync(path.dirname(path.resolve(p)), { recursive: true });
    const step = this.model.summary().step;
    ring?.beforeSave();
    await this.model.save(p, JSON.stringify(extra));
    ring?.saved(step);
    if (ring) this.emit('checkpoint', { path: p, step });
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
  try {
    return openLogUnchecked(file, resumedFrom);
  } catch (e) {
    throw ioError('cannot open the metrics log', file, e);
  }
}

function openLogUnchecked(file: string, resumedFrom: number | undefined): MetricsLog {
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
  // Whole lines with one synchronous write each (a few hundred bytes per step): a failure such as
  // ENOSPC is an ERR_IO error at that step, never an unhandled stream 'error' event, and a line
  // is never interleaved with another.
  const fd = fs.openSync(file, resumedFrom !== undefined ? 'a' : 'w');
  let open = true;
  return {
    write: (line) => {
      try {
        fs.writeSync(fd, line);
      } catch (e) {
        throw ioError('cannot write the metrics log', file, e);
      }
    },
    close: async () => {
      if (!open) return;
      open = false;
      try {
        fs.fsyncSync(fd);
      } catch {
        // fsync is durability, not correctness: a file system without it keeps what was written
      } finally {
        fs.closeSync(fd);
      }
    },
  };
}
