import * as fs from 'fs';
import * as path from 'path';

import type { BlockGradStats } from '../../../lib';
import { PART_NAMES } from '../../../lib/config';
import { ClaimResult, evaluateClaims, renderClaimsMarkdown } from '../../../scripts/reproduce/claims';
import { blockStat, depthRho, fluctuationReduction, LONG_CLAIMS, partStat } from '../../../scripts/reproduce/longClaims';
import { MODES, RunResult } from '../../../scripts/reproduce/variants';
import { fakeRun } from '../../helpers/reproduceRuns';

const NAMES = ['stem', 'layer1.0', 'layer1.1', 'layer2.0', 'layer2.1', 'layer3.0', 'layer3.1', 'layer4.0', 'layer4.1', 'projector.0', 'projector.1'];
const LAST_OF_PART = [0, 2, 4, 6, 8, 10];

/**
 * A long-mode run whose per-block statistics are the given arrays (forward order): steady values
 * in gradBlocks, the same values in every window after the first (the first holds 99s, which
 * must be left out), parts from their last blocks, and probes with cosines `cos`.
 */
function longRun(variant: string, seed: number, knn: number, s: { cv: number[]; rel: number[]; std: number[]; cos: number[] }, over: Partial<RunResult> = {}): RunResult {
  const gradBlocks: BlockGradStats[] = NAMES.map((block, k) => ({
    block,
    part: (block.split('.')[0] as (typeof PART_NAMES)[number]),
    n: 50,
    meanRms: 1,
    meanNorm: 1,
    stdNorm: s.std[k],
    cvNorm: s.cv[k],
    cvRms: s.cv[k],
    meanRelChange: s.rel[k],
    probeCosine: s.cos[k],
  }));
  const partOf = (xs: number[]) => LAST_OF_PART.map((k) => xs[k]);
  const window = (step: number, v: (xs: number[]) => number[]) => ({ step, blockStd: v(s.std), blockCv: v(s.cv), blockRelChange: v(s.rel), partRelChange: partOf(v(s.rel)) });
  const junk = (xs: number[]) => xs.map(() => 99);
  const id = (xs: number[]) => xs;
  return fakeRun(variant, seed, knn, {
    mode: 'long',
    steps: 2800,
    grad: PART_NAMES.map((part, b) => ({ part, n: 50, meanRms: 1, cv: partOf(s.cv)[b], meanRelChange: partOf(s.rel)[b], probeCosine: null })),
    cvOverTraining: [
      [50, junk(partOf(s.cv))],
      [100, partOf(s.cv)],
      [150, partOf(s.cv)],
    ],
    gradBlocks,
    gradOverTraining: [window(50, junk), window(100, id), window(150, id)],
    probes: [
      { step: 100, part: PART_NAMES.map(() => null), block: NAMES.map(() => null) },
      { step: 200, part: partOf(s.cos), block: s.cos },
      { step: 300, part: partOf(s.cos), block: s.cos },
    ],
    ...over,
  });
}

const up = NAMES.map((_, k) => 0.1 + 0.01 * k);
const down = NAMES.map((_, k) => 0.3 - 0.01 * k);
const flat = NAMES.map(() => 0.2);

describe('long-mode gradient statistics', () => {
  test('per block and per part, over training and at steady state', () => {
    const cos = NAMES.map((_, k) => 0.5 + 0.02 * k);
    const r = longRun('simclr', 0, 0.8, { cv: up, rel: down, std: flat, cos });
    expect(blockStat(r, 'cv', 'steady')).toEqual(up);
    // Over training: windows after the first only (the first window's 99s are left out).
    expect(blockStat(r, 'cv', 'training')).toEqual(up);
    expect(blockStat(r, 'relchange', 'training')).toEqual(down);
    // Probes: 1 − the mean cosine of the probes that have one (the first has none).
    blockStat(r, 'probe', 'training')!.forEach((v, k) => expect(v).toBeCloseTo(1 - cos[k], 12));
    expect(partStat(r, 'cv', 'training')).toEqual(LAST_OF_PART.map((k) => up[k]));
    expect(partStat(r, 'cv', 'steady')).toEqual(LAST_OF_PART.map((k) => up[k]));
    expect(partStat(r, 'std', 'steady')).toEqual(LAST_OF_PART.map(() => 0.2));
    partStat(r, 'probe', 'steady')!.forEach((v, b) => expect(v).toBeCloseTo(1 - cos[LAST_OF_PART[b]], 12));
    // Results from before issue #16 have no block data.
    expect(blockStat(fakeRun('simclr', 0, 0.8), 'cv', 'training')).toBeUndefined();
  });

  test('depth rank correlation and fluctuation reduction by hand', () => {
    expect(depthRho(up)).toBeCloseTo(1, 12);
    expect(depthRho(down)).toBeCloseTo(-1, 12);
    expect(depthRho([1, 3, 2])).toBeCloseTo(0.5, 12);
    expect(depthRho(flat)).toBeUndefined();
    expect(depthRho([1, NaN, 2])).toBeUndefined();
    const base = longRun('simclr', 0, 0.8, { cv: flat, rel: flat, std: flat, cos: flat });
    const half = flat.map((x, k) => (k >= 9 ? x / 2 : x));
    const ema = longRun('simclr-projector', 0, 0.81, { cv: half, rel: flat, std: flat, cos: flat });
    // Projector blocks: ln(0.2 / 0.1) = ln 2; backbone blocks unchanged; all: 2 ln 2 / 11.
    expect(fluctuationReduction(base, ema, 'cv', (p) => p === 'projector')).toBeCloseTo(Math.log(2), 12);
    expect(fluctuationReduction(base, ema, 'cv', (p) => p !== 'projector')).toBeCloseTo(0, 12);
    expect(fluctuationReduction(base, ema, 'cv', () => true)).toBeCloseTo((2 * Math.log(2)) / 11, 12);
  });
});

describe('long-mode claims', () => {
  // Five seeds: SimCLR's CV rises with depth in every seed, its relative change falls; the EMA
  // configurations halve the projector's CV and gain accuracy in proportion to their reduction.
  const results: RunResult[] = [];
  for (let seed = 0; seed < 5; seed++) {
    const noise = 0.001 * seed;
    const stats = { cv: up.map((x) => x + noise), rel: down, std: flat, cos: flat };
    results.push(longRun('simclr', seed, 0.8, stats));
    results.push(longRun('simsiam', seed, 0.7, { ...stats, cv: down }));
    for (const [variant, base, factor] of [
      ['simclr-full', 'simclr', 0.5],
      ['simclr-projector', 'simclr', 0.8],
      ['simsiam-full', 'simsiam', 0.6],
      ['simsiam-projector', 'simsiam', 0.9],
    ] as const) {
      const b = results.find((r) => r.variant === base && r.seed === seed)!;
      const cv = b.gradBlocks!.map((g) => g.cvNorm * factor * (1 + 0.01 * seed));
      const reduction = -Math.log(factor * (1 + 0.01 * seed));
      results.push(longRun(variant, seed, b.knnTop1 + 0.1 * reduction + 0.001 * seed, { cv, rel: down, std: flat, cos: flat }));
    }
  }
  const claims = evaluateClaims(results, LONG_CLAIMS, { undecided: true });
  const byId = (id: string) => claims.find((c) => c.id === id)!;

  test('depth claims: a sign-flip test of per-seed ρ', () => {
    const cv = byId('late-gradients-fluctuate/simclr/block/cv/training');
    expect([cv.mean, cv.seeds, cv.agreeing, cv.p, cv.verdict]).toEqual([1, 5, 5, 1 / 32, 'supported']);
    expect(cv.interval).toEqual([1, 1]);
    const rel = byId('late-gradients-fluctuate/simclr/part/relchange/steady');
    expect([rel.mean, rel.p, rel.verdict]).toEqual([-1, 1, 'contradicted']);
    expect(byId('late-gradients-fluctuate/simsiam/block/cv/steady').verdict).toBe('contradicted');
    // Constant statistics: ρ undefined in every seed, so no data.
    expect(byId('late-gradients-fluctuate/simclr/block/std/training').verdict).toBe('no data');
  });

  test('stability claims: reduction on the covered blocks, and its correlation with the gain', () => {
    const full = byId('ema-lowers-fluctuation/simclr-full/all/cv');
    expect(full.mean).toBeCloseTo(mean5((s) => -Math.log(0.5 * (1 + 0.01 * s))), 12);
    expect(full.verdict).toBe('supported');
    // Relative change is the same in every configuration: no reduction, decided neither way.
    expect(byId('ema-lowers-fluctuation/simclr-projector/covered/relchange').mean).toBeCloseTo(0, 12);
    const corr = byId('reduction-goes-with-gain/cv/knn');
    expect(corr.points).toBe(20);
    expect(corr.seeds).toBe(5);
    expect(corr.mean).toBeGreaterThan(0.99);
    expect(corr.p).toBeLessThan(0.01);
    expect(corr.verdict).toBe('supported');
  });

  test('accuracy claims of the second framework and the table', () => {
    const simsiam = byId('ema-improves-simsiam/knn');
    expect(simsiam.mean).toBeCloseTo(mean5((s) => 100 * (0.1 * -Math.log(0.6 * (1 + 0.01 * s)) + 0.001 * s)), 9);
    expect(simsiam.verdict).toBe('supported');
    // BYOL has no runs here.
    expect(byId('byol-projector-matches-full/linear').verdict).toBe('no data');
    const md = renderClaimsMarkdown(claims);
    expect(md).toMatch(/^### Accuracy \(10k test split\)/);
    expect(md).toMatch(/### The gradient w\.r\.t\. the final layers fluctuates more/);
    expect(md).toMatch(/\| r = 0\.99\d \[/);
    expect(md).toMatch(/20 points, 5 seeds/);
    expect(md).not.toMatch(/leans/);
  });
});

function mean5(f: (seed: number) => number): number {
  return [0, 1, 2, 3, 4].reduce((a, s) => a + f(s), 0) / 5;
}

describe('committed long results (docs/results/long)', () => {
  const root = path.join(__dirname, '../../..');
  const dir = path.join(root, 'docs/results/long');
  let summary: { meta: Record<string, string>; claims: ClaimResult[]; results: RunResult[] };
  // Until the first run of the current budget completes the folder holds only its README, which
  // must then say so; once there are results, every file must be there and agree.
  const present = fs.existsSync(path.join(dir, 'results.jsonl'));
  beforeAll(() => {
    if (present) summary = JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8'));
  });

  it('say the run is in progress while there are none yet', () => {
    if (present) return;
    expect(fs.readFileSync(path.join(dir, 'README.md'), 'utf8')).toContain('Status: **in progress**');
    for (const f of ['summary.json', 'claims.md', 'report.html']) expect(fs.existsSync(path.join(dir, f))).toBe(false);
  });

  it('are long-mode runs with the command, commit and machine, one results.jsonl line each', () => {
    if (!present) return;
    expect(summary.meta.mode).toBe('long');
    expect(summary.meta.command).toMatch(/^npm run reproduce -- --long/);
    expect(summary.meta.commit).toMatch(/[0-9a-f]{40}/);
    expect(summary.meta.machine).toMatch(/cores/);
    const lines = fs.readFileSync(path.join(dir, 'results.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as RunResult);
    expect(lines).toEqual(summary.results);
    for (const r of lines) {
      expect([r.mode, r.steps]).toEqual(['long', MODES.long.steps]);
      expect(r.gradBlocks!.map((b) => b.block)).toEqual(NAMES);
      expect(r.probes!.length).toBe(MODES.long.steps / MODES.long.probeEvery);
    }
  });

  it('carry the claims their runs give, and claims.md is their table', () => {
    if (!present) return;
    expect(summary.claims).toEqual(JSON.parse(JSON.stringify(evaluateClaims(summary.results, LONG_CLAIMS, { undecided: true }))));
    expect(fs.readFileSync(path.join(dir, 'claims.md'), 'utf8').trim()).toBe(renderClaimsMarkdown(summary.claims));
  });
});
