// What `npm run reproduce` runs: the configurations, the two budgets, and one run's record.
import type { BlockGradStats, EmaParts, MethodName, PartGradStats } from '../../lib';

export interface Variant {
  id: string;
  label: string;
  method: MethodName;
  ema: EmaParts;
  /** 'framework': the same EMA questions asked of SimSiam, BYOL and DINO (not in the committed full run). */
  group: 'method' | 'first-k' | 'last-k' | 'framework';
}

export const BACKBONE = ['stem', 'layer1', 'layer2', 'layer3', 'layer4'] as const;

export const VARIANTS: Variant[] = [
  { id: 'simclr', label: 'SimCLR', method: 'simclr', ema: 'none', group: 'method' },
  { id: 'simclr-full', label: 'SimCLR + full EMA', method: 'simclr', ema: 'full', group: 'method' },
  { id: 'simclr-projector', label: 'SimCLR + projector-only EMA (last-1)', method: 'simclr', ema: 'projector', group: 'method' },
  { id: 'moco', label: 'MoCo v2 (queue, full EMA)', method: 'moco', ema: 'full', group: 'method' },
  // First-k: EMA on the k parts nearest the input.
  ...[1, 2, 3, 4, 5].map((k): Variant => ({
    id: `first-${k}`,
    label: `first-${k}: ${BACKBONE.slice(0, k).join('+')}`,
    method: 'simclr',
    ema: BACKBONE.slice(0, k),
    group: 'first-k',
  })),
  // Last-k: EMA on the k parts nearest the loss (last-1 is projector-only, last-6 is full).
  ...[2, 3, 4, 5].map((k): Variant => ({
    id: `last-${k}`,
    label: `last-${k}: ${[...BACKBONE.slice(6 - k), 'projector'].join('+')}`,
    method: 'simclr',
    ema: [...BACKBONE.slice(6 - k), 'projector'],
    group: 'last-k',
  })),
  // The second framework: momentum-free SimSiam with EMA plugged in, BYOL with and without a
  // backbone EMA, and DINO (multi-crop, EMA teacher).
  { id: 'simsiam', label: 'SimSiam', method: 'simsiam', ema: 'none', group: 'framework' },
  { id: 'simsiam-full', label: 'SimSiam + full EMA', method: 'simsiam', ema: 'full', group: 'framework' },
  { id: 'simsiam-projector', label: 'SimSiam + projector-only EMA', method: 'simsiam', ema: 'projector', group: 'framework' },
  { id: 'byol', label: 'BYOL (full EMA)', method: 'byol', ema: 'full', group: 'framework' },
  { id: 'byol-projector', label: 'BYOL + projector-only EMA', method: 'byol', ema: 'projector', group: 'framework' },
  { id: 'dino', label: 'DINO (full EMA teacher, multi-crop)', method: 'dino', ema: 'full', group: 'framework' },
];

/** The run id of last-k: last-1 is the projector-only configuration. */
export function lastK(k: number): string {
  return k === 1 ? 'simclr-projector' : `last-${k}`;
}

export interface Budget {
  /** Pretraining images: a seeded subset of the train split, 0 = the whole split. */
  trainSubset: number;
  /** kNN / linear-probe images (train and test split), 0 = the whole split. */
  evalTrain: number;
  evalTest: number;
  steps: number;
  batchSize: number;
  seeds: number[];
  /** Per configuration seed lists where they differ from `seeds`. */
  seedsFor?: Partial<Record<string, number[]>>;
  /** The configurations of this mode (default: every VARIANTS entry). */
  variants?: string[];
  window: number;
  /** Gradient probe (design §5) every N steps on a fixed batch; 0 = none. */
  probeEvery: number;
}

export type ModeName = 'quick' | 'full' | 'long';

/** Seeds a configuration runs under in this budget. */
export function seedsOf(b: Budget, variant: string): number[] {
  return b.seedsFor?.[variant] ?? b.seeds;
}

/** The (configuration, seed) pairs of a budget, seed-major: every configuration's seed 0 first. */
export function runOrder(variants: readonly Variant[], budget: Budget): Array<{ v: Variant; seed: number }> {
  const seeds = [...new Set(variants.flatMap((v) => seedsOf(budget, v.id)))].sort((x, y) => x - y);
  return seeds.flatMap((seed) => variants.filter((v) => seedsOf(budget, v.id).includes(seed)).map((v) => ({ v, seed })));
}

export const MODES: Record<ModeName, Budget> = {
  // A few minutes here: one seed, a few steps per configuration: checks the pipeline end to end,
  // with enough steps for gradient windows after the first (the steady CV needs them).
  quick: { trainSubset: 2048, evalTrain: 2000, evalTest: 1000, steps: 40, batchSize: 64, seeds: [0], window: 10, probeEvery: 20 },
  // A few hours here, in the background; resumable.
  full: { trainSubset: 20000, evalTrain: 10000, evalTest: 2000, steps: 300, batchSize: 128, seeds: [0, 1, 2], window: 50, probeEvery: 0 },
  // Issue #16: the whole train split, the whole test split, 5 seeds of SimCLR and SimSiam with
  // and without EMA, 3 of MoCo v2 and BYOL; 3000 steps, run two at a time (--jobs 2, one thread
  // each) to fit 14 hours here (LONG_SIZING has the numbers).
  long: {
    trainSubset: 0,
    evalTrain: 0,
    evalTest: 0,
    steps: 3000,
    batchSize: 128,
    seeds: [0, 1, 2, 3, 4],
    seedsFor: { moco: [0, 1, 2], byol: [0, 1, 2], 'byol-projector': [0, 1, 2] },
    variants: ['simclr', 'simclr-full', 'simclr-projector', 'simsiam', 'simsiam-full', 'simsiam-projector', 'moco', 'byol', 'byol-projector'],
    window: 50,
    probeEvery: 100,
  },
};

export interface RunResult {
  variant: string;
  seed: number;
  mode: string;
  steps: number;
  knnTop1: number;
  linearTop1: number | null;
  pixelsKnnTop1: number | null;
  msPerStep: number;
  keyBranchMsPerStep: number;
  forwardMsPerStep: number;
  finalLoss: number;
  grad: PartGradStats[];
  /** Windowed CV per part every `window` steps: [step, cv per part]. */
  cvOverTraining: Array<[number, (number | null)[]]>;
  /** Per-block statistics over the last window (design §5); absent in results from before #16. */
  gradBlocks?: BlockGradStats[];
  /**
   * Every `window` steps, per block (gradBlocks order) and per part: the windowed std and CV of
   * the norm and the mean relative change (parts: of rms_b; their CV is cvOverTraining).
   */
  gradOverTraining?: Array<{ step: number; blockStd: (number | null)[]; blockCv: (number | null)[]; blockRelChange: (number | null)[]; partRelChange: (number | null)[] }>;
  /** Probe cosines (direction stability) per part and per block, every probeEvery steps. */
  probes?: Array<{ step: number; part: (number | null)[]; block: (number | null)[] }>;
  /** Evaluation wall time: features, kNN, linear probe (ms). */
  evalMs?: { features: number; knn: number; linear: number };
  resumed: boolean;
  /** Seconds this run took in its last invocation (absent in results from before it was recorded). */
  wallSeconds?: number;
  /** `git rev-parse HEAD` of the code that ran it (absent before #16). */
  commit?: string;
}

/** How the long mode's budget was sized (summary.json meta.sizing). */
export const LONG_SIZING =
  'ms/step at batch 128, 2 threads, this machine alone (the committed 300-step run): SimCLR 347, + full EMA 486, + projector EMA 374, MoCo v2 495; ' +
  'SimSiam/BYOL measured under contention as CPU ms/step within 8 % of their SimCLR counterparts (SimSiam 656/914/639 vs SimCLR 655/851/620; BYOL 836/597 vs MoCo 813). ' +
  'Sum over the 39 runs: about 16.4 s per step index; evaluation on the full splits about 45 s per run alone (73 s measured under contention: features 58 s, kNN 7 s, linear 8 s). ' +
  'One run at a time with 2 threads, 3000 steps would take about 14.4 h (13.7 h training + 0.5 h evaluation + probes and checkpoints). ' +
  'Two runs at a time with 1 thread each (--jobs 2) do 1.29x the work: measured here, SimCLR + projector EMA at batch 128, 358 ms/step alone with 2 threads vs 554 ms/step each for two 1-thread runs side by side (`npm run bench -- --only parallelRuns` measures it again). ' +
  'So 3000 steps x 128 (6.4 epochs of 60k, 10x the 300-step budget) take about 11.2 h with --jobs 2.';
