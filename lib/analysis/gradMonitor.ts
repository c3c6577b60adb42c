// Windowed gradient statistics per part and per block (design §5) from the per-step figures the
// native step reports: over the last W steps, the mean, the population std and the coefficient
// of variation std/mean, and the mean relative change |x_t − x_{t−1}| / x_{t−1}; and the mean
// probe cosine. Plain arithmetic on a few scalars per step; the tensors stay native.
import { PART_NAMES, PartName } from '../config';
import type { GradBlocks, ProbeResult, StepResult } from '../model';

export interface PartGradStats {
  part: PartName;
  /** Steps in the window. */
  n: number;
  meanRms: number;
  /** std/mean of rms over the window (population std). */
  cv: number;
  /** Mean of |r_t − r_{t−1}| / r_{t−1} over consecutive pairs in the window. */
  meanRelChange: number;
  /** Mean probe cosine (direction stability), null without probes. */
  probeCosine: number | null;
}

/** One block (stem, layerN.i, projector.i) over the window. */
export interface BlockGradStats {
  block: string;
  part: PartName;
  n: number;
  /** rms_k = ‖∂L/∂h_k‖₂ / sqrt(numel): size-free, so blocks of different sizes compare. */
  meanRms: number;
  /** The raw norm ‖∂L/∂h_k‖₂ (both views). */
  meanNorm: number;
  /** Population std of the norm over the window. */
  stdNorm: number;
  /** std/mean of the norm; equal to that of rms_k while numel is fixed (a fixed batch size). */
  cvNorm: number;
  /** std/mean of rms_k (the parts' statistic). */
  cvRms: number;
  /** Mean |n_t − n_{t−1}| / n_{t−1} of the norm; the same for rms at a fixed numel. */
  meanRelChange: number;
  probeCosine: number | null;
}

export interface WindowStats {
  n: number;
  mean: number;
  std: number;
  /** std/mean (NaN for a mean <= 0). */
  cv: number;
  meanRelChange: number;
}

/**
 * Statistics of the last `window` values of `all`; `all` may hold one earlier value, which only
 * serves as the predecessor of the window's first relative change.
 */
export function windowStats(all: readonly number[], window: number): WindowStats {
  const win = all.slice(-window);
  const n = win.length;
  const mean = n ? win.reduce((a, x) => a + x, 0) / n : NaN;
  const std = n ? Math.sqrt(win.reduce((a, x) => a + (x - mean) ** 2, 0) / n) : NaN;
  const pairs: number[] = [];
  for (let i = Math.max(1, all.length - window); i < all.length; i++) {
    if (all[i - 1] > 0) pairs.push(Math.abs(all[i] - all[i - 1]) / all[i - 1]);
  }
  return { n, mean, std, cv: mean > 0 ? std / mean : NaN, meanRelChange: pairs.length ? pairs.reduce((a, x) => a + x, 0) / pairs.length : NaN };
}

/** The part a block belongs to: the name before the dot (stem has none). */
export function blockPart(block: string): PartName {
  const part = block.split('.')[0] as PartName;
  if (!PART_NAMES.includes(part)) throw new RangeError(`gradient block '${block}' names no part (${PART_NAMES.join(', ')})`);
  return part;
}

const meanOrNull = (xs: readonly number[]): number | null => (xs.length ? xs.reduce((a, x) => a + x, 0) / xs.length : null);

export class GradMonitor {
  readonly window: number;
  private readonly history: number[][] = PART_NAMES.map(() => []);
  private readonly cosines: number[][] = PART_NAMES.map(() => []);
  private names: string[] | null = null;
  private norms: number[][] = [];
  private rms: number[][] = [];
  private blockCosines: number[][] = [];
  private steps = 0;

  constructor(window = 50) {
    if (!Number.isInteger(window) || window < 2) throw new RangeError(`gradMonitor window must be an integer >= 2, got ${window}`);
    this.window = window;
  }

  /** Records one step; throws if the step has no gradient statistics (monitor off). */
  push(step: Pick<StepResult, 'gradRms'> & { gradBlocks?: GradBlocks | null }): void {
    if (!Array.isArray(step.gradRms) || step.gradRms.every((v) => v === null)) {
      throw new TypeError('GradMonitor.push: the step has no gradRms; create the model with gradMonitor: { enabled: true }');
    }
    step.gradRms.forEach((v, b) => {
      if (v === null || !Number.isFinite(v)) return;
      this.keep(this.history[b], v);
    });
    if (step.gradBlocks) this.pushBlocks(step.gradBlocks);
    this.steps++;
  }

  pushProbe(probe: Pick<ProbeResult, 'cosine'> & { blocks?: ProbeResult['blocks'] }): void {
    probe.cosine.forEach((c, b) => {
      if (c !== null && Number.isFinite(c)) this.cosines[b].push(c);
    });
    if (probe.blocks) {
      this.setNames(probe.blocks.names);
      probe.blocks.cosine.forEach((c, k) => {
        if (c !== null && Number.isFinite(c)) this.blockCosines[k].push(c);
      });
    }
  }

  get numSteps(): number {
    return this.steps;
  }

  /** Block names seen so far (null before the first step with gradBlocks). */
  get blockNames(): readonly string[] | null {
    return this.names;
  }

  summary(): PartGradStats[] {
    return PART_NAMES.map((part, b) => {
      const w = windowStats(this.history[b], this.window);
      return { part, n: w.n, meanRms: w.mean, cv: w.cv, meanRelChange: w.meanRelChange, probeCosine: meanOrNull(this.cosines[b]) };
    });
  }

  /** Per block over the window; [] before any step with gradBlocks. */
  blockSummary(): BlockGradStats[] {
    return (this.names ?? []).map((block, k) => {
      const n = windowStats(this.norms[k], this.window);
      const r = windowStats(this.rms[k], this.window);
      return {
        block,
        part: blockPart(block),
        n: n.n,
        meanRms: r.mean,
        meanNorm: n.mean,
        stdNorm: n.std,
        cvNorm: n.cv,
        cvRms: r.cv,
        meanRelChange: n.meanRelChange,
        probeCosine: meanOrNull(this.blockCosines[k]),
      };
    });
  }

  private pushBlocks(g: GradBlocks): void {
    this.setNames(g.names);
    g.sumsq.forEach((s, k) => {
      const numel = g.numel[k];
      if (s === null || !Number.isFinite(s) || numel === null || !(numel > 0)) return;
      this.keep(this.norms[k], Math.sqrt(s));
      this.keep(this.rms[k], Math.sqrt(s / numel));
    });
  }

  private setNames(names: readonly string[]): void {
    if (this.names === null) {
      names.forEach(blockPart);
      this.names = [...names];
      this.norms = names.map(() => []);
      this.rms = names.map(() => []);
      this.blockCosines = names.map(() => []);
    } else if (names.length !== this.names.length || names.some((x, i) => x !== this.names![i])) {
      throw new RangeError(`GradMonitor: gradient blocks changed from [${this.names.join(', ')}] to [${names.join(', ')}]`);
    }
  }

  // Keeps one extra value so the first relative change of the window has its predecessor.
  private keep(h: number[], v: number): void {
    h.push(v);
    if (h.length > this.window + 1) h.shift();
  }
}
