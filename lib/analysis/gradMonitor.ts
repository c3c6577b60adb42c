// Windowed gradient statistics per part (design §5) from the per-step rms the native step
// reports: coefficient of variation std/mean and mean relative change |r_t − r_{t−1}| / r_{t−1}
// over the last W steps. Plain arithmetic on a few scalars per step; the tensors stay native.
import { PART_NAMES, PartName } from '../config';
import type { ProbeResult, StepResult } from '../model';

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

export class GradMonitor {
  readonly window: number;
  private readonly history: number[][] = PART_NAMES.map(() => []);
  private readonly cosines: number[][] = PART_NAMES.map(() => []);
  private steps = 0;

  constructor(window = 50) {
    if (!Number.isInteger(window) || window < 2) throw new RangeError(`gradMonitor window must be an integer >= 2, got ${window}`);
    this.window = window;
  }

  /** Records one step; throws if the step has no gradient statistics (monitor off). */
  push(step: Pick<StepResult, 'gradRms'>): void {
    if (!Array.isArray(step.gradRms) || step.gradRms.every((v) => v === null)) {
      throw new TypeError('GradMonitor.push: the step has no gradRms; create the model with gradMonitor: { enabled: true }');
    }
    step.gradRms.forEach((v, b) => {
      if (v === null || !Number.isFinite(v)) return;
      const h = this.history[b];
      h.push(v);
      // Keep one extra value so the first relative change of the window has its predecessor.
      if (h.length > this.window + 1) h.shift();
    });
    this.steps++;
  }

  pushProbe(probe: ProbeResult): void {
    probe.cosine.forEach((c, b) => {
      if (c !== null && Number.isFinite(c)) this.cosines[b].push(c);
    });
  }

  get numSteps(): number {
    return this.steps;
  }

  summary(): PartGradStats[] {
    return PART_NAMES.map((part, b) => {
      const all = this.history[b];
      const win = all.slice(-this.window);
      const n = win.length;
      const mean = n ? win.reduce((a, x) => a + x, 0) / n : NaN;
      const variance = n ? win.reduce((a, x) => a + (x - mean) ** 2, 0) / n : NaN;
      const pairs: number[] = [];
      for (let i = Math.max(1, all.length - this.window); i < all.length; i++) {
        if (all[i - 1] > 0) pairs.push(Math.abs(all[i] - all[i - 1]) / all[i - 1]);
      }
      const cos = this.cosines[b];
      return {
        part,
        n,
        meanRms: mean,
        cv: mean > 0 ? Math.sqrt(variance) / mean : NaN,
        meanRelChange: pairs.length ? pairs.reduce((a, x) => a + x, 0) / pairs.length : NaN,
        probeCosine: cos.length ? cos.reduce((a, x) => a + x, 0) / cos.length : null,
      };
    });
  }
}
