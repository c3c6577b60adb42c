// The paper's claims as tests on the reproduce results. Every configuration runs under the same
// seeds (same initialisation and data order), so each claim is a paired comparison across seeds:
// a one-sided paired t-test at α = 0.05, with margins fixed before the full run was looked at.
// With three seeds the test has two degrees of freedom: a difference must be about three times
// its standard error to count, which is the confidence three seeds can honestly give.
import { pearson } from '../../lib/analysis/correlation';
import { bootstrapInterval, permutationCorrelationTest, signFlipTest } from '../../lib/analysis/resampling';
import { mean, pairedDifference, sampleStd } from '../../lib/analysis/stats';
import { PART_NAMES } from '../../lib/config';
import { lastK, MODES, RunResult } from './variants';

export const ALPHA = 0.05;
/** Accuracy margin (percentage points) for "matches" and "matters little". */
export const MARGIN_PT = 1;

/** 'undecided' replaces 'leans yes' / 'leans no' where evaluateClaims is asked for it (the long mode). */
export type Verdict = 'supported' | 'leans yes' | 'leans no' | 'undecided' | 'contradicted' | 'no data';

export interface ClaimResult {
  /** Stable id: claim id plus metric. */
  id: string;
  /** Section of the claims table (the long mode's tables are grouped). */
  group?: string;
  claim: string;
  /** What is compared, as "a − b". */
  comparison: string;
  metric: string;
  /** How the claim is tested. */
  test: string;
  seeds: number;
  mean: number;
  std: number;
  /** 90 % confidence interval of the mean difference. */
  interval: [number, number];
  /** Seeds whose difference points the claimed way (NaN for correlations). */
  agreeing: number;
  /** Correlation claims: the (configuration, seed) points correlated. */
  points?: number;
  /** One-sided p-value of the claim's test (for "equivalent", the larger of the two). */
  p: number;
  verdict: Verdict;
}

/**
 * greater / noninferior / equivalent: a one-sided paired t-test of a − b over seeds. sign-flip:
 * the exact sign-flip permutation test of the per-seed a − b > 0 with a bootstrap interval of
 * the mean over seeds, for statistics (rank correlations) whose spread need not be normal.
 */
type Kind = { kind: 'greater' } | { kind: 'noninferior'; margin: number } | { kind: 'equivalent'; margin: number } | { kind: 'sign-flip' };

/** A per-seed value of the quantity a claim is about; undefined where the seed lacks a run. */
type Measure = (bySeed: Map<string, RunResult>) => number | undefined;

export interface PairedSpec {
  id: string;
  group?: string;
  claim: string;
  comparison: string;
  metric: string;
  kind: Kind;
  /** The per-seed difference a − b. */
  a: Measure;
  b: Measure;
}

/**
 * A correlation over (configuration, seed) points, e.g. fluctuation reduction against accuracy
 * gain: Pearson's r, a one-sided permutation p of r > 0, and a bootstrap interval that resamples
 * whole seeds (the points of one seed share its initialisation and data order).
 */
export interface CorrelationSpec {
  id: string;
  group?: string;
  claim: string;
  comparison: string;
  metric: string;
  kind: { kind: 'correlation' };
  points: (results: readonly RunResult[]) => Array<{ seed: number; x: number; y: number }>;
}

export type ClaimSpec = PairedSpec | CorrelationSpec;

const acc =
  (variant: string, metric: 'knn' | 'linear'): Measure =>
  (m) => {
    const r = m.get(variant);
    if (!r) return undefined;
    const v = metric === 'knn' ? r.knnTop1 : r.linearTop1;
    return v === null ? undefined : 100 * v;
  };
const keyMs =
  (variant: string): Measure =>
  (m) =>
    m.get(variant)?.keyBranchMsPerStep;
const zero: Measure = () => 0;

// Mean over k = 1..5 of last-k minus first-k: EMA on the k parts nearest the loss against EMA on
// the k parts nearest the input, at equal k.
const lastMinusFirst =
  (metric: 'knn' | 'linear'): Measure =>
  (m) => {
    const d: number[] = [];
    for (let k = 1; k <= 5; k++) {
      const a = acc(lastK(k), metric)(m);
      const b = acc(`first-${k}`, metric)(m);
      if (a === undefined || b === undefined) return undefined;
      d.push(a - b);
    }
    return d.reduce((x, y) => x + y, 0) / d.length;
  };

/**
 * Per part, the CV of rms_b averaged over every window after the first: the first window holds
 * the start-up transient, where every gradient shrinks fast and the CV measures that trend, not
 * fluctuation.
 */
export function steadyCv(r: RunResult): number[] {
  // By step, not position: a resumed run records windows from its resume point on.
  const window = MODES[r.mode as keyof typeof MODES]?.window ?? r.cvOverTraining[0]?.[0] ?? 0;
  const windows = r.cvOverTraining.filter(([step]) => step > window);
  return PART_NAMES.map((_, b) => {
    const xs = windows.map(([, c]) => c[b]).filter((x): x is number => x !== null && Number.isFinite(x));
    return xs.length ? xs.reduce((x, y) => x + y, 0) / xs.length : NaN;
  });
}

/** mean(layer4, projector) − mean(stem, layer1) of a per-part statistic. */
function lateMinusEarly(perPart: readonly number[]): number | undefined {
  const at = (p: (typeof PART_NAMES)[number]) => perPart[PART_NAMES.indexOf(p)];
  const v = (at('layer4') + at('projector')) / 2 - (at('stem') + at('layer1')) / 2;
  return Number.isFinite(v) ? v : undefined;
}

/** Steady CV of the final parts minus that of the parts nearest the input. */
export function lateMinusEarlyCv(r: RunResult): number | undefined {
  return lateMinusEarly(steadyCv(r));
}

/**
 * The same for the mean relative change |r_t − r_{t−1}| / r_{t−1} over the last window: a
 * step-to-step measure that a slow trend in the gradient scale barely moves, unlike the CV.
 */
export function lateMinusEarlyRelChange(r: RunResult): number | undefined {
  if (r.grad.length !== PART_NAMES.length) return undefined;
  return lateMinusEarly(r.grad.map((g) => g.meanRelChange));
}

function accuracyClaims(id: string, claim: string, comparison: string, a: string | ((m: 'knn' | 'linear') => Measure), b: string | null, kind: Kind): PairedSpec[] {
  return (['knn', 'linear'] as const).map((metric) => ({
    id: `${id}/${metric}`,
    claim,
    comparison,
    metric: metric === 'knn' ? 'kNN top-1 (pt)' : 'linear top-1 (pt)',
    kind,
    a: typeof a === 'string' ? acc(a, metric) : a(metric),
    b: b === null ? zero : acc(b, metric),
  }));
}

function gradientClaim(id: string, short: string, metric: string, stat: (r: RunResult) => number | undefined): PairedSpec {
  return {
    id: `late-gradients-fluctuate/${id}`,
    claim: 'The gradient w.r.t. the final parts fluctuates more',
    comparison: `SimCLR: ${short}(layer4, projector) − ${short}(stem, layer1)`,
    metric,
    kind: { kind: 'greater' },
    a: (m) => {
      const r = m.get('simclr');
      return r ? stat(r) : undefined;
    },
    b: zero,
  };
}

export const CLAIMS: PairedSpec[] = [
  ...accuracyClaims('ema-improves-simclr', 'EMA plugged into momentum-free SimCLR improves it', 'SimCLR + full EMA − SimCLR', 'simclr-full', 'simclr', { kind: 'greater' }),
  ...accuracyClaims('moco-beats-simclr', 'MoCo-style EMA + queue beats momentum-free SimCLR', 'MoCo v2 − SimCLR', 'moco', 'simclr', { kind: 'greater' }),
  ...accuracyClaims(
    'projector-matches-full',
    'Projector-only EMA matches or beats full EMA',
    'projector-only EMA − full EMA',
    'simclr-projector',
    'simclr-full',
    { kind: 'noninferior', margin: MARGIN_PT },
  ),
  {
    id: 'projector-is-cheap/key-ms',
    claim: 'Projector-only EMA needs no second backbone forward',
    comparison: 'full EMA − projector-only EMA',
    metric: 'key-branch ms/step',
    kind: { kind: 'greater' },
    a: keyMs('simclr-full'),
    b: keyMs('simclr-projector'),
  },
  ...accuracyClaims('early-ema-matters-little', 'EMA near the input matters little', 'first-1 (stem EMA) − SimCLR', 'first-1', 'simclr', {
    kind: 'equivalent',
    margin: MARGIN_PT,
  }),
  ...accuracyClaims('late-ema-matters-more', 'EMA on later parts matters more than on early parts', 'mean over k=1..5 of last-k − first-k', lastMinusFirst, null, {
    kind: 'greater',
  }),
  gradientClaim('cv', 'CV', 'gradient CV of rms_b (windows after the first)', lateMinusEarlyCv),
  gradientClaim('relchange', 'relchange', 'gradient step-to-step relative change of rms_b', lateMinusEarlyRelChange),
];

function testLabel(kind: Kind): string {
  switch (kind.kind) {
    case 'greater':
      return 'a − b > 0';
    case 'noninferior':
      return `a − b > −${kind.margin}`;
    case 'equivalent':
      return `−${kind.margin} < a − b < ${kind.margin}`;
    case 'sign-flip':
      return 'a − b > 0 (sign-flip)';
  }
}

function judge(kind: Kind, a: number[], b: number[]): Pick<ClaimResult, 'mean' | 'std' | 'interval' | 'agreeing' | 'p' | 'verdict'> {
  const d = pairedDifference(a, b);
  const diffs = a.map((x, i) => x - b[i]);
  const base = { mean: d.mean, std: d.std, interval: d.interval(0.9) };
  switch (kind.kind) {
    case 'greater': {
      const p = d.pGreater();
      const verdict: Verdict = p < ALPHA ? 'supported' : d.pLess() < ALPHA ? 'contradicted' : d.mean > 0 ? 'leans yes' : 'leans no';
      return { ...base, p, agreeing: diffs.filter((x) => x > 0).length, verdict };
    }
    case 'noninferior': {
      const m = kind.margin;
      const p = d.pGreater(m);
      const verdict: Verdict = p < ALPHA ? 'supported' : d.pLess(-m) < ALPHA ? 'contradicted' : d.mean > -m ? 'leans yes' : 'leans no';
      return { ...base, p, agreeing: diffs.filter((x) => x > -m).length, verdict };
    }
    case 'equivalent': {
      const m = kind.margin;
      // Two one-sided tests: inside the margin on both sides.
      const p = Math.max(d.pGreater(m), d.pLess(m));
      const outside = d.pGreater(-m) < ALPHA || d.pLess(-m) < ALPHA;
      const verdict: Verdict = p < ALPHA ? 'supported' : outside ? 'contradicted' : Math.abs(d.mean) < m ? 'leans yes' : 'leans no';
      return { ...base, p, agreeing: diffs.filter((x) => Math.abs(x) < m).length, verdict };
    }
    case 'sign-flip': {
      const t = signFlipTest(diffs);
      const verdict: Verdict = t.pGreater < ALPHA ? 'supported' : t.pLess < ALPHA ? 'contradicted' : t.mean > 0 ? 'leans yes' : 'leans no';
      return { mean: t.mean, std: sampleStd(diffs), interval: bootstrapInterval(diffs, mean), p: t.pGreater, agreeing: diffs.filter((x) => x > 0).length, verdict };
    }
  }
}

function judgeCorrelation(points: Array<{ seed: number; x: number; y: number }>): Pick<ClaimResult, 'mean' | 'std' | 'interval' | 'agreeing' | 'p' | 'verdict' | 'points' | 'seeds'> {
  const seeds = [...new Set(points.map((q) => q.seed))];
  const t = permutationCorrelationTest(
    points.map((q) => q.x),
    points.map((q) => q.y),
    pearson,
  );
  const bySeed = seeds.map((s) => points.filter((q) => q.seed === s));
  const interval = bootstrapInterval(bySeed, (sample) => {
    const flat = sample.flat();
    return pearson(
      flat.map((q) => q.x),
      flat.map((q) => q.y),
    );
  });
  const verdict: Verdict = !Number.isFinite(t.r) ? 'no data' : t.pGreater < ALPHA ? 'supported' : t.pLess < ALPHA ? 'contradicted' : t.r > 0 ? 'leans yes' : 'leans no';
  return { mean: t.r, std: NaN, interval, agreeing: NaN, p: t.pGreater, verdict, points: points.length, seeds: seeds.length };
}

/**
 * Evaluates every claim on the runs of one mode. `undecided`: report 'undecided' where the test
 * decides neither way, instead of the direction it leans (the mean and p still say which).
 */
export function evaluateClaims(results: readonly RunResult[], specs: readonly ClaimSpec[] = CLAIMS, options: { undecided?: boolean } = {}): ClaimResult[] {
  const out = evaluateAll(results, specs);
  if (!options.undecided) return out;
  return out.map((c) => (c.verdict === 'leans yes' || c.verdict === 'leans no' ? { ...c, verdict: 'undecided' } : c));
}

function evaluateAll(results: readonly RunResult[], specs: readonly ClaimSpec[]): ClaimResult[] {
  const seeds = [...new Set(results.map((r) => r.seed))].sort((x, y) => x - y);
  const bySeed = seeds.map((s) => new Map(results.filter((r) => r.seed === s).map((r) => [r.variant, r])));
  return specs.map((spec): ClaimResult => {
    const group = spec.group !== undefined ? { group: spec.group } : {};
    if (spec.kind.kind === 'correlation') {
      const points = (spec as CorrelationSpec).points(results).filter((q) => Number.isFinite(q.x) && Number.isFinite(q.y));
      const head = { id: spec.id, ...group, claim: spec.claim, comparison: spec.comparison, metric: spec.metric, test: 'Pearson r > 0 (permutation)' };
      if (points.length < 3) return { ...head, seeds: 0, points: points.length, mean: NaN, std: NaN, interval: [NaN, NaN], agreeing: NaN, p: NaN, verdict: 'no data' };
      return { ...head, ...judgeCorrelation(points) };
    }
    const paired = spec as PairedSpec;
    const a: number[] = [];
    const b: number[] = [];
    for (const m of bySeed) {
      const x = paired.a(m);
      const y = paired.b(m);
      if (x === undefined || y === undefined || !Number.isFinite(x) || !Number.isFinite(y)) continue;
      a.push(x);
      b.push(y);
    }
    const head = { id: spec.id, ...group, claim: spec.claim, comparison: spec.comparison, metric: spec.metric, test: testLabel(paired.kind), seeds: a.length };
    if (a.length === 0) return { ...head, mean: NaN, std: NaN, interval: [NaN, NaN], agreeing: 0, p: NaN, verdict: 'no data' };
    return { ...head, ...judge(paired.kind, a, b) };
  });
}

function num(x: number, digits: number): string {
  if (!Number.isFinite(x)) return '–';
  const s = x.toFixed(digits);
  // No "-0.00".
  return Number(s) === 0 ? (0).toFixed(digits) : s;
}

function pValue(p: number): string {
  if (!Number.isFinite(p)) return '–';
  return p < 0.001 ? '< 0.001' : p.toFixed(3);
}

/** The claims table as Markdown (the README and docs/results/claims.md carry it verbatim); one table per group when claims have groups. */
export function renderClaimsMarkdown(claims: readonly ClaimResult[]): string {
  const digits = (c: ClaimResult) => (c.metric.startsWith('gradient') || c.points !== undefined ? 3 : c.metric.startsWith('key') ? 1 : 2);
  const row = (c: ClaimResult) => {
    const d = digits(c);
    let effect: string;
    if (c.points !== undefined) effect = `r = ${num(c.mean, d)} [${num(c.interval[0], d)}, ${num(c.interval[1], d)}]`;
    else effect = c.seeds > 1 ? `${num(c.mean, d)} ± ${num(c.std, d)} [${num(c.interval[0], d)}, ${num(c.interval[1], d)}]` : num(c.mean, d);
    const agreeing = c.points !== undefined ? `${c.points} points, ${c.seeds} seeds` : `${c.agreeing}/${c.seeds}`;
    const cells = [c.claim, c.comparison, c.metric, c.test, effect, agreeing, pValue(c.p), `**${c.verdict}**`];
    return `| ${cells.map((x) => x.replace(/\|/g, '\\|')).join(' | ')} |`;
  };
  const table = (rows: readonly ClaimResult[]) =>
    [
      '| claim | a − b | metric | test | a − b: mean ± std [90 % CI] | seeds agreeing | p | verdict |',
      '|---|---|---|---|---|---|---|---|',
      ...rows.map(row),
    ].join('\n');
  if (!claims.some((c) => c.group !== undefined)) return table(claims);
  const groups = [...new Set(claims.map((c) => c.group ?? ''))];
  return groups.map((g) => `${g ? `### ${g}\n\n` : ''}${table(claims.filter((c) => (c.group ?? '') === g))}`).join('\n\n');
}
