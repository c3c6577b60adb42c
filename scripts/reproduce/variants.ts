// What `npm run reproduce` runs: the configurations, the two budgets, and one run's record.
import type { EmaParts, MethodName, PartGradStats } from '../../lib';

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
  trainSubset: number;
  evalTrain: number;
  evalTest: number;
  steps: number;
  batchSize: number;
  seeds: number[];
  window: number;
}

export const MODES: Record<'quick' | 'full', Budget> = {
  // A few minutes here: one seed, a few steps per configuration: checks the pipeline end to end,
  // with enough steps for gradient windows after the first (the steady CV needs them).
  quick: { trainSubset: 2048, evalTrain: 2000, evalTest: 1000, steps: 40, batchSize: 64, seeds: [0], window: 10 },
  // A few hours here, in the background; resumable.
  full: { trainSubset: 20000, evalTrain: 10000, evalTest: 2000, steps: 300, batchSize: 128, seeds: [0, 1, 2], window: 50 },
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
  resumed: boolean;
  /** Seconds this run took in its last invocation (absent in results from before it was recorded). */
  wallSeconds?: number;
}
