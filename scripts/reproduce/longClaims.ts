// The long mode's claims (issue #16): the accuracy claims of both frameworks (SimCLR, SimSiam;
// BYOL's projector-only question), "the gradient w.r.t. the final layers fluctuates more" per
// gradient statistic, per block and per part, over training and at steady state, and the
// stability reading (does EMA lower the fluctuation, and does the reduction go with the gain).
// Every claim is a test over seeds (claims.ts); no claim reads a number that was not measured.
import { spearman } from '../../lib/analysis/correlation';
import { mean } from '../../lib/analysis/stats';
import { PART_NAMES } from '../../lib/config';
import { ClaimSpec, CorrelationSpec, MARGIN_PT, PairedSpec } from './claims';
import { MODES, RunResult } from './variants';

/** Probes averaged for the steady state: the last 5 (the last 500 steps at probeEvery 100). */
export const STEADY_PROBES = 5;

/** Fluctuation statistics of ∂L/∂h: std and CV of the norm, relative change, 1 − probe cosine. */
export type GradStat = 'std' | 'cv' | 'relchange' | 'probe';
export type Scope = 'training' | 'steady';

const STAT_LABEL: Record<GradStat, string> = {
  std: 'windowed std of ‖∂L/∂h‖ (raw norm, not size-free)',
  cv: 'windowed CV of ‖∂L/∂h‖ (= CV of rms)',
  relchange: 'step-to-step relative change of ‖∂L/∂h‖',
  probe: '1 − probe cosine (direction change between probes)',
};
const SCOPE_LABEL: Record<Scope, string> = { training: 'over training (windows after the first; probes: all)', steady: 'steady state (last window; probes: last 5)' };

type Series = Array<number | null>;
const finiteMean = (xs: readonly (number | null)[]): number => {
  const v = xs.filter((x): x is number => x !== null && Number.isFinite(x));
  return v.length ? mean(v) : NaN;
};
/** Column-wise mean of rows (per block or part) over the rows kept. */
const columnMean = (rows: readonly Series[], width: number): number[] => Array.from({ length: width }, (_, k) => finiteMean(rows.map((r) => r[k] ?? null)));

function windowOf(r: RunResult): number {
  return MODES[r.mode as keyof typeof MODES]?.window ?? 50;
}

/** Probe cosines as 1 − cos per block or part, over all probes or the last STEADY_PROBES with values; undefined without probes. */
function probeInstability(r: RunResult, level: 'block' | 'part', width: number, scope: Scope): number[] | undefined {
  if (!r.probes || r.probes.length === 0) return undefined;
  const withValues = r.probes.map((p) => p[level]).filter((row) => row.some((c) => c !== null));
  const kept = scope === 'steady' ? withValues.slice(-STEADY_PROBES) : withValues;
  return columnMean(kept, width).map((c) => 1 - c);
}

/** A statistic per block in forward order (stem … projector.N); undefined without block data. */
export function blockStat(r: RunResult, stat: GradStat, scope: Scope): number[] | undefined {
  const blocks = r.gradBlocks;
  if (!blocks || blocks.length === 0) return undefined;
  const n = blocks.length;
  if (stat === 'probe') return probeInstability(r, 'block', n, scope);
  if (scope === 'steady') return blocks.map((b) => (stat === 'std' ? b.stdNorm : stat === 'cv' ? b.cvNorm : b.meanRelChange));
  // The first window holds the start-up transient, where every gradient shrinks fast: a trend, not fluctuation.
  const rows = (r.gradOverTraining ?? []).filter((w) => w.step > windowOf(r));
  if (rows.length === 0) return undefined;
  return columnMean(
    rows.map((w) => (stat === 'std' ? w.blockStd : stat === 'cv' ? w.blockCv : w.blockRelChange)),
    n,
  );
}

/** The last block of each part: a part's output is its last block's (design §5). */
function lastBlockOfParts(r: RunResult): number[] | undefined {
  const blocks = r.gradBlocks;
  if (!blocks) return undefined;
  const idx = PART_NAMES.map((p) => blocks.map((b) => b.part).lastIndexOf(p));
  return idx.every((i) => i >= 0) ? idx : undefined;
}

/** A statistic per part (stem, layer1..4, projector); undefined without the data. */
export function partStat(r: RunResult, stat: GradStat, scope: Scope): number[] | undefined {
  const n = PART_NAMES.length;
  if (stat === 'probe') return probeInstability(r, 'part', n, scope);
  if (stat === 'std') {
    const last = lastBlockOfParts(r);
    const perBlock = blockStat(r, 'std', scope);
    return last && perBlock ? last.map((k) => perBlock[k]) : undefined;
  }
  if (scope === 'steady') return r.grad.length === n ? r.grad.map((g) => (stat === 'cv' ? g.cv : g.meanRelChange)) : undefined;
  const w = windowOf(r);
  if (stat === 'cv') {
    const rows = r.cvOverTraining.filter(([step]) => step > w).map(([, c]) => c);
    return rows.length ? columnMean(rows, n) : undefined;
  }
  const rows = (r.gradOverTraining ?? []).filter((x) => x.step > w).map((x) => x.partRelChange);
  return rows.length ? columnMean(rows, n) : undefined;
}

/** Spearman ρ between depth (forward order) and a per-index statistic. */
export function depthRho(values: readonly number[] | undefined): number | undefined {
  if (!values || values.length < 3 || values.some((v) => !Number.isFinite(v))) return undefined;
  const rho = spearman(
    values.map((_, i) => i),
    values,
  );
  return Number.isFinite(rho) ? rho : undefined;
}

const run = (variant: string) => (m: Map<string, RunResult>) => m.get(variant);
const zero = () => 0;

const METHODS: Array<{ id: string; label: string }> = [
  { id: 'simclr', label: 'SimCLR' },
  { id: 'simsiam', label: 'SimSiam' },
];
const STATS: GradStat[] = ['std', 'cv', 'relchange', 'probe'];
const SCOPES: Scope[] = ['training', 'steady'];

function depthClaims(): PairedSpec[] {
  const out: PairedSpec[] = [];
  for (const method of METHODS) {
    for (const level of ['block', 'part'] as const) {
      for (const scope of SCOPES) {
        for (const stat of STATS) {
          out.push({
            id: `late-gradients-fluctuate/${method.id}/${level}/${stat}/${scope}`,
            group: 'The gradient w.r.t. the final layers fluctuates more',
            claim: `${method.label}: later ${level}s fluctuate more`,
            comparison: `ρ(depth, statistic) over the ${level === 'block' ? 'stem, 8 residual blocks and 2 projector stages' : '6 parts'}`,
            metric: `gradient ${STAT_LABEL[stat]}, ${SCOPE_LABEL[scope]}`,
            kind: { kind: 'sign-flip' },
            a: (m) => {
              const r = run(method.id)(m);
              return r ? depthRho(level === 'block' ? blockStat(r, stat, scope) : partStat(r, stat, scope)) : undefined;
            },
            b: zero,
          });
        }
      }
    }
  }
  return out;
}

function accuracy(variant: string, metric: 'knn' | 'linear') {
  return (m: Map<string, RunResult>): number | undefined => {
    const r = m.get(variant);
    if (!r) return undefined;
    const v = metric === 'knn' ? r.knnTop1 : r.linearTop1;
    return v === null ? undefined : 100 * v;
  };
}

function accuracyPair(id: string, group: string, claim: string, comparison: string, a: string, b: string, kind: PairedSpec['kind']): PairedSpec[] {
  return (['knn', 'linear'] as const).map((metric) => ({
    id: `${id}/${metric}`,
    group,
    claim,
    comparison,
    metric: metric === 'knn' ? 'kNN top-1 (pt)' : 'linear top-1 (pt)',
    kind,
    a: accuracy(a, metric),
    b: accuracy(b, metric),
  }));
}

const ACCURACY = 'Accuracy (10k test split)';
const accuracyClaims: PairedSpec[] = [
  ...accuracyPair('ema-improves-simclr', ACCURACY, 'EMA plugged into momentum-free SimCLR improves it', 'SimCLR + full EMA − SimCLR', 'simclr-full', 'simclr', { kind: 'greater' }),
  ...accuracyPair('projector-ema-improves-simclr', ACCURACY, 'Projector-only EMA improves SimCLR', 'SimCLR + projector EMA − SimCLR', 'simclr-projector', 'simclr', { kind: 'greater' }),
  ...accuracyPair('moco-beats-simclr', ACCURACY, 'MoCo-style EMA + queue beats momentum-free SimCLR', 'MoCo v2 − SimCLR', 'moco', 'simclr', { kind: 'greater' }),
  ...accuracyPair('projector-matches-full', ACCURACY, 'SimCLR: projector-only EMA matches or beats full EMA', 'SimCLR: projector − full EMA', 'simclr-projector', 'simclr-full', {
    kind: 'noninferior',
    margin: MARGIN_PT,
  }),
  ...accuracyPair('ema-improves-simsiam', ACCURACY, 'EMA plugged into momentum-free SimSiam improves it', 'SimSiam + full EMA − SimSiam', 'simsiam-full', 'simsiam', { kind: 'greater' }),
  ...accuracyPair('projector-ema-improves-simsiam', ACCURACY, 'Projector-only EMA improves SimSiam', 'SimSiam + projector EMA − SimSiam', 'simsiam-projector', 'simsiam', {
    kind: 'greater',
  }),
  ...accuracyPair('simsiam-projector-matches-full', ACCURACY, 'SimSiam: projector-only EMA matches or beats full EMA', 'SimSiam: projector − full EMA', 'simsiam-projector', 'simsiam-full', {
    kind: 'noninferior',
    margin: MARGIN_PT,
  }),
  ...accuracyPair('byol-projector-matches-full', ACCURACY, 'BYOL: projector-only EMA matches or beats full EMA', 'BYOL: projector − full EMA', 'byol-projector', 'byol', {
    kind: 'noninferior',
    margin: MARGIN_PT,
  }),
  {
    id: 'projector-is-cheap/key-ms',
    group: ACCURACY,
    claim: 'Projector-only EMA needs no second backbone forward',
    comparison: 'SimCLR: full − projector-only EMA',
    metric: 'key-branch ms/step',
    kind: { kind: 'greater' },
    a: (m) => m.get('simclr-full')?.keyBranchMsPerStep,
    b: (m) => m.get('simclr-projector')?.keyBranchMsPerStep,
  },
];

/** The EMA configurations with a momentum-free counterpart of the same method, and what they cover. */
export const EMA_PAIRS: Array<{ ema: string; base: string; label: string; covers: 'all' | 'projector' }> = [
  { ema: 'simclr-full', base: 'simclr', label: 'SimCLR + full EMA', covers: 'all' },
  { ema: 'simclr-projector', base: 'simclr', label: 'SimCLR + projector EMA', covers: 'projector' },
  { ema: 'simsiam-full', base: 'simsiam', label: 'SimSiam + full EMA', covers: 'all' },
  { ema: 'simsiam-projector', base: 'simsiam', label: 'SimSiam + projector EMA', covers: 'projector' },
];
/** Size-free fluctuation statistics compared across configurations (the raw std is not). */
const STABILITY_STATS: GradStat[] = ['cv', 'relchange', 'probe'];

/**
 * Fluctuation reduction of `ema` against `base` on the blocks `which` selects: the mean over
 * those blocks of ln(stat_base / stat_ema), over training; > 0 where EMA lowers it.
 */
export function fluctuationReduction(base: RunResult, ema: RunResult, stat: GradStat, which: (part: string) => boolean): number | undefined {
  const b = blockStat(base, stat, 'training');
  const e = blockStat(ema, stat, 'training');
  const parts = ema.gradBlocks?.map((g) => g.part);
  if (!b || !e || !parts || b.length !== e.length) return undefined;
  const logs = parts.map((p, k) => (which(p) && b[k] > 0 && e[k] > 0 ? Math.log(b[k] / e[k]) : NaN)).filter((x) => Number.isFinite(x));
  return logs.length ? mean(logs) : undefined;
}

const isProjector = (p: string) => p === 'projector';
const STABILITY = 'Stability: does EMA lower the gradient fluctuation, and does that go with the accuracy gain?';

function stabilityClaims(): ClaimSpec[] {
  const out: ClaimSpec[] = [];
  for (const pair of EMA_PAIRS) {
    const scopes: Array<{ name: string; which: (p: string) => boolean }> =
      pair.covers === 'all' ? [{ name: 'all blocks (all covered)', which: () => true }] : [
        { name: 'projector blocks (covered)', which: isProjector },
        { name: 'backbone blocks (not covered)', which: (p) => !isProjector(p) },
      ];
    for (const scope of scopes) {
      for (const stat of STABILITY_STATS) {
        out.push({
          id: `ema-lowers-fluctuation/${pair.ema}/${pair.covers === 'all' ? 'all' : scope.which('projector') ? 'covered' : 'others'}/${stat}`,
          group: STABILITY,
          claim: `${pair.label} lowers the fluctuation of ${scope.name}`,
          comparison: `mean over blocks of ln(${pair.base} / ${pair.ema})`,
          metric: `gradient ${STAT_LABEL[stat]}, over training`,
          kind: { kind: 'greater' },
          a: (m) => {
            const base = m.get(pair.base);
            const ema = m.get(pair.ema);
            return base && ema ? fluctuationReduction(base, ema, stat, scope.which) : undefined;
          },
          b: zero,
        });
      }
    }
  }
  for (const stat of STABILITY_STATS) {
    for (const metric of ['knn', 'linear'] as const) {
      const spec: CorrelationSpec = {
        id: `reduction-goes-with-gain/${stat}/${metric}`,
        group: STABILITY,
        claim: 'A larger fluctuation reduction goes with a larger accuracy gain',
        comparison: `x: reduction (all blocks) of each EMA configuration vs its momentum-free method, y: its ${metric === 'knn' ? 'kNN' : 'linear'} gain (pt), same seed`,
        metric: `gradient ${STAT_LABEL[stat]}, over training`,
        kind: { kind: 'correlation' },
        points: (results) => {
          const out: Array<{ seed: number; x: number; y: number }> = [];
          for (const pair of EMA_PAIRS) {
            for (const ema of results.filter((r) => r.variant === pair.ema)) {
              const base = results.find((r) => r.variant === pair.base && r.seed === ema.seed);
              if (!base) continue;
              const x = fluctuationReduction(base, ema, stat, () => true);
              const acc = (r: RunResult) => (metric === 'knn' ? r.knnTop1 : r.linearTop1);
              const a = acc(ema);
              const b = acc(base);
              if (x === undefined || a === null || b === null) continue;
              out.push({ seed: ema.seed, x, y: 100 * (a - b) });
            }
          }
          return out;
        },
      };
      out.push(spec);
    }
  }
  return out;
}

export const LONG_CLAIMS: ClaimSpec[] = [...accuracyClaims, ...depthClaims(), ...stabilityClaims()];
