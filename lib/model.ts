// SslModel: the networks (backbone → projector [→ predictor], EMA parts), the objective, the
// optimizer and the augmenter, living natively (native/core/ssl_model.h: the same concept).
// step() runs one whole training step off the event loop.
import { DeepPartial, resolveSslConfig, SslConfig } from './config';
import { exportOnnx, OnnxExportOptions } from './export/onnx';
import type { ProcessGroup } from './distributed/processGroup';
import { binding, NativeSslModel } from './native';
import { Tensor } from './tensor';

export type PhaseName = 'augment' | 'forward' | 'keyBranch' | 'loss' | 'backward' | 'allReduce' | 'optimizer' | 'ema' | 'objectiveUpdate';

export interface StepResult {
  loss: number;
  lr: number;
  /** EMA momentum m(t) used by this step's update. */
  momentum: number;
  /** Optimizer steps done, this one included. */
  step: number;
  /** Wall time of each phase of the step, in ms. */
  ms: Record<PhaseName, number>;
  /**
   * rms_b = ‖∂L/∂h_b‖₂ / sqrt(numel h_b) per part (stem, layer1..4, projector), both views;
   * nulls when config.gradMonitor is off.
   */
  gradRms: (number | null)[];
  /**
   * Per block (design §5): the stem, every residual block (layer1.0 … layer4.N), each projector
   * stage (projector.0 …), in forward order: ‖∂L/∂h_k‖² summed over both views and numel(h_k).
   * A part's output is its last block's, so gradRms[b] = sqrt(sumsq/numel) of that block.
   * null when config.gradMonitor is off.
   */
  gradBlocks: GradBlocks | null;
  /** The objective's own figures of this step (DINO: teacherTemperature, teacherEntropy); {} for most. */
  objective: Record<string, number | null>;
  /**
   * Data parallel (design §9): ms this step spent inside collectives (negative gathers, SyncBN,
   * gradient all-reduce) and the gradient bytes all-reduced; 0 in one process. `loss` is then
   * the mean over ranks, the loss of one process over the whole batch.
   */
  communicationMs: number;
  allReduceBytes: number;
}

export interface GradBlocks {
  /** ModelSummary.gradBlocks. */
  names: string[];
  sumsq: (number | null)[];
  numel: (number | null)[];
}

/** Gradients on a fixed probe batch (design §5): rms per part and the cosine with the previous probe. */
export interface ProbeResult {
  rms: (number | null)[];
  /** null on the first probe. */
  cosine: (number | null)[];
  /** The same per block (ModelSummary.gradBlocks order). */
  blocks: { names: string[]; rms: (number | null)[]; cosine: (number | null)[] };
}

export interface ModelSummary {
  step: number;
  numParameters: number;
  numEmaParameters: number;
  emaParts: string[];
  featureDim: number;
  /** Names of the gradient monitor's blocks (design §5): stem, layer1.0, …, projector.0, …. */
  gradBlocks: string[];
  device: string;
  objective: string;
  /** The config as the core resolved it (every default filled in, EMA parts as a list). */
  config: SslConfig;
}

/** Per-part forward calls, index order stem, layer1..layer4, projector. */
export interface ForwardCounts {
  online: number[];
  key: number[];
}

export class SslModel {
  readonly config: SslConfig;
  private readonly native: NativeSslModel;

  private constructor(config: SslConfig, native: NativeSslModel) {
    this.config = config;
    this.native = native;
  }

  /** Builds the model; bad configs throw a TypeError/RangeError naming the field, the value and what is allowed. */
  static create(config?: DeepPartial<SslConfig>): SslModel {
    const resolved = resolveSslConfig(config);
    const Ctor = binding().NativeSslModel;
    return new SslModel(resolved, new Ctor(resolved));
  }

  /**
   * One training step on a uint8 batch [B,C,H,W] (two augmented views are made natively).
   * `sampleIndex` (int64 [B], dataset indices) masks a sample's own keys among queue negatives.
   */
  step(images: Tensor, sampleIndex?: Tensor): Promise<StepResult> {
    if (!(images instanceof Tensor)) return Promise.reject(new TypeError('step: images must be a Tensor (uint8 [B,C,H,W])'));
    if (sampleIndex !== undefined && !(sampleIndex instanceof Tensor)) {
      return Promise.reject(new TypeError('step: sampleIndex must be a Tensor (int64 [B]) or undefined'));
    }
    try {
      return this.native.step(images.handle, sampleIndex?.handle);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * ∂L/∂h_b on a fixed batch with fixed augmentation; changes no state (no optimizer step,
   * EMA, enqueue or BN statistics). Successive probes report the cosine between their gradients.
   */
  async probe(images: Tensor): Promise<ProbeResult> {
    if (!(images instanceof Tensor)) throw new TypeError('probe: images must be a Tensor (uint8 [B,C,H,W])');
    return this.native.probe(images.handle);
  }

  /** Backbone features (eval mode, no augmentation) of uint8 images [B,C,H,W]: float32 [B,F]. */
  async embed(images: Tensor): Promise<Tensor> {
    if (!(images instanceof Tensor)) throw new TypeError('embed: images must be a Tensor (uint8 [B,C,H,W])');
    return new Tensor(await this.native.embed(images.handle));
  }

  /** The same features as a row-major Float32Array [B·F] with its shape, for other Node ML stacks. */
  async embedArray(images: Tensor): Promise<{ data: Float32Array; shape: [number, number] }> {
    const t = await this.embed(images);
    try {
      return { data: t.toTypedArray() as Float32Array, shape: t.shape as [number, number] };
    } finally {
      t.dispose();
    }
  }

  summary(): ModelSummary {
    return this.native.summary() as ModelSummary;
  }

  /** Forward calls per part as of the last settled job. */
  forwardCounts(): ForwardCounts {
    return this.native.forwardCounts();
  }

  resetForwardCounts(): Promise<void> {
    return this.native.resetForwardCounts();
  }

  /**
   * Joins a data-parallel group (design §9): rank 0's weights are broadcast to every rank, and
   * from then on each step averages gradients over the group and gathers negatives through it.
   * Call on every rank, before load(); with a group, save() must be called on every rank too
   * (rank 0 writes the file). null leaves the group.
   */
  setProcessGroup(group: ProcessGroup | null): Promise<void> {
    return rejecting(() => this.native.setProcessGroup(group ? group.native : null));
  }

  /**
   * Writes the whole training state (atomically: temp file + rename). `extra` is stored with it
   * and returned by load() (the trainer keeps its sampler position there).
   */
  save(path: string, extra = ''): Promise<string> {
    return rejecting(() => this.native.save(path, extra));
  }

  /** Restores a state saved by a model of the same signature; resolves to the saved `extra`. */
  load(path: string): Promise<string> {
    return rejecting(() => this.native.load(path));
  }

  /**
   * Writes the backbone weights with torchvision key names, readable by Python's torch.load
   * (`resnet18().load_state_dict(sd, strict=False)` takes them). `ema` exports the EMA weights.
   */
  exportStateDict(path: string, options: { ema?: boolean } = {}): Promise<string> {
    return rejecting(() => this.native.exportStateDict(path, options.ema === true));
  }

  /**
   * Issue #12: the backbone's (torchvision key names) or projector's parameters and buffers, as
   * CPU copies in eval-ready form: what exporters to other runtimes read. Dispose the tensors.
   */
  async namedTensors(which: 'backbone' | 'projector', options: { ema?: boolean } = {}): Promise<[string, Tensor][]> {
    const pairs = await this.native.namedTensors(which, options.ema === true);
    return pairs.map(([name, t]) => [name, new Tensor(t)]);
  }

  /** Issue #12: the eval-mode network as an ONNX file for onnxruntime-node (lib/export/onnx.ts). */
  exportOnnx(path: string, options: OnnxExportOptions = {}): Promise<string> {
    return exportOnnx(this, path, options);
  }

  /** What must match for a checkpoint to load: architecture, EMA parts, loss and queue layout. */
  signature(): string {
    return this.native.signature();
  }

  get disposed(): boolean {
    return this.native.disposed;
  }

  /** Frees the native model now; a step already queued still completes. */
  dispose(): void {
    this.native.dispose();
  }
}

// reliability #13: a path the binding refuses synchronously (NUL byte, a device) still rejects.
function rejecting<T>(start: () => Promise<T>): Promise<T> {
  try {
    return start();
  } catch (e) {
    return Promise.reject(e);
  }
}

const disposeSymbol: symbol = (Symbol as unknown as { dispose?: symbol }).dispose ?? Symbol.for('nodejs.dispose');
(SslModel.prototype as unknown as Record<symbol, () => void>)[disposeSymbol] = function (this: SslModel) {
  this.dispose();
};
