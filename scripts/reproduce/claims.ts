// The paper's claims as tests on the reproduce results. Every configuration runs under the same
// seeds (same initialisation and data order), so each claim is a paired comparison across seeds:
// a one-sided paired t-test at α = 0.05, with margins fixed before the full run was looked at.
// With three seeds the test has two degrees of freedom: a difference must be about three times
// its standard error to count, which is the confidence three seeds can honestly give.
import { pairedDifference } from '../../lib/analysis/stats';
import { PART_NAMES } from '../../lib/config';
import { lastK, MODES, RunResult } from './variants';

export const ALPHA = 0.05;
/** Accuracy margin (percentage points) for "matches" and "matters little". */
export const MARGIN_PT = 1;

export type Verdict = 'supported' | 'leans yes' | 'leans no' | 'contradicted' | 'no data';

export interface ClaimResult {
  /** Stable id: claim id plus metric. */
  id: string;
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
  /** Seeds whose difference points the claimed way. */
  agreeing: number;
  /** One-sided p-value of the claim's test (for "equivalent", the larger of the two). */
  p: number;
  verdict: Verdict;
}

type Kind = { kind: 'greater' } | { kind: 'noninferior'; margin: number } | { kind: 'equivalent'; margin: number };

/** A per-seed value of the quantity a claim is about; undefined where the seed lacks a run. */
type Measure = (bySeed: Map<string, RunResult>) => number | undefined;

interface ClaimSpec {
  id: string;
  claim: string;
  comparison: string;
  metric: string;
  kind: Kind;
  /** The per-seed difference a − b. */
  a: Measure;
  b: Measure;
}

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

function accuracyClaims(id: string, claim: string, comparison: string, a: string | ((m: 'knn' | 'linear') => Measure), b: string | null, kind: Kind): ClaimSpec[] {
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

function gradientClaim(id: string, short: string, metric: string, stat: (r: RunResult) => number | undefined): ClaimSpec {
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

export const CLAIMS: ClaimSpec[] = [
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
  }
}

/** Evaluates every claim on the runs of one mode. */
export function evaluateClaims(results: readonly RunResult[], specs: readonly ClaimSpec[] = CLAIMS): ClaimResult[] {
  const seeds = [...new Set(results.map((r) => r.seed))].sort((x, y) => x - y);
  const bySeed = seeds.map((s) => new Map(results.filter((r) => r.seed === s).map((r) => [r.variant, r])));
  return specs.map((spec) => {
    const a: number[] = [];
    const b: number[] = [];
    for (const m of bySeed) {
      const x = spec.a(m);
      const y = spec.b(m);
      if (x === undefined || y === undefined || !Number.isFinite(x) || !Number.isFinite(y)) continue;
      a.push(x);
      b.push(y);
    }
    const head = { id: spec.id, claim: spec.claim, comparison: spec.comparison, metric: spec.metric, test: testLabel(spec.kind), seeds: a.length };
    if (a.length === 0) return { ...head, mean: NaN, std: NaN, interval: [NaN, NaN], agreeing: 0, p: NaN, verdict: 'no data' };
    return { ...head, ...judge(spec.kind, a, b) };
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

/** The claims table as Markdown (the README and docs/results/claims.md carry it verbatim). */
export function renderClaimsMarkdown(claims: readonly ClaimResult[]): string {
  const digits = (c: ClaimResult) => (c.metric.startsWith('gradient') ? 3 : c.metric.startsWith('key') ? 1 : 2);
  const rows = claims.map((c) => {
    const d = digits(c);
    const effect = c.seeds > 1 ? `${num(c.mean, d)} ± ${num(c.std, d)} [${num(c.interval[0], d)}, ${num(c.interval[1], d)}]` : num(c.mean, d);
    const cells = [c.claim, c.comparison, c.metric, c.test, effect, `${c.agreeing}/${c.seeds}`, pValue(c.p), `**${c.verdict}**`];
    return `| ${cells.map((x) => x.replace(/\|/g, '\\|')).join(' | ')} |`;
  });
  return [
    '| claim | a − b | metric | test | a − b: mean ± std [90 % CI] | seeds agreeing | p | verdict |',
    '|---|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}
