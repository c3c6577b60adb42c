import * as fs from 'fs';
import * as path from 'path';

import { studentTCdf } from '../../../lib/analysis/stats';
import { PART_NAMES } from '../../../lib/config';
import { CLAIMS, ClaimResult, evaluateClaims, lateMinusEarlyCv, lateMinusEarlyRelChange, renderClaimsMarkdown, steadyCv } from '../../../scripts/reproduce/claims';
import type { RunResult } from '../../../scripts/reproduce/variants';
import { fakeRun } from '../../helpers/reproduceRuns';
import { VARIANTS } from '../../../scripts/reproduce/variants';

const cdf2 = (t: number) => 0.5 + t / (2 * Math.sqrt(2 + t * t));

const run = fakeRun;

/** Three seeds of every configuration, all at `base` unless overridden per variant. */
function grid(base: number[], over: Record<string, number[]> = {}): RunResult[] {
  return VARIANTS.flatMap((v) => [0, 1, 2].map((s) => run(v.id, s, (over[v.id] ?? base)[s])));
}

const byId = (claims: ClaimResult[], id: string) => claims.find((c) => c.id === id)!;

describe('evaluateClaims', () => {
  it('is a paired one-sided t-test over seeds', () => {
    // Full EMA − SimCLR: +2, +3, +1 points: mean 2, std 1, t = 2√3 on 2 df.
    const claims = evaluateClaims(grid([0.7, 0.7, 0.7], { 'simclr-full': [0.72, 0.73, 0.71] }));
    const c = byId(claims, 'ema-improves-simclr/knn');
    expect(c.seeds).toBe(3);
    expect(c.mean).toBeCloseTo(2, 9);
    expect(c.std).toBeCloseTo(1, 9);
    expect(c.p).toBeCloseTo(1 - cdf2(2 * Math.sqrt(3)), 9);
    expect(c.agreeing).toBe(3);
    expect(c.verdict).toBe('supported');
    // The linear metric is the same shift here.
    expect(byId(claims, 'ema-improves-simclr/linear').verdict).toBe('supported');
  });

  it('says contradicted when the seeds significantly point the other way', () => {
    const claims = evaluateClaims(grid([0.7, 0.7, 0.7], { moco: [0.67, 0.66, 0.65] }));
    const c = byId(claims, 'moco-beats-simclr/knn');
    expect(c.mean).toBeCloseTo(-4, 9);
    expect(c.verdict).toBe('contradicted');
  });

  it('separates a lean from a significant result', () => {
    // +3, −1, +1: mean 1 > 0 but std 2: t = √3 / 2, p ≈ 0.24.
    const claims = evaluateClaims(grid([0.7, 0.7, 0.7], { 'simclr-full': [0.73, 0.69, 0.71] }));
    const c = byId(claims, 'ema-improves-simclr/knn');
    expect(c.p).toBeCloseTo(1 - studentTCdf(Math.sqrt(3) / 2, 2), 9);
    expect(c.verdict).toBe('leans yes');
    expect(c.agreeing).toBe(2);
  });

  it('tests "matches" as non-inferiority by the margin', () => {
    // Projector − full: −0.5, −0.4, −0.6 points: worse, but well inside the 1-point margin.
    const ok = evaluateClaims(grid([0.7, 0.7, 0.7], { 'simclr-projector': [0.695, 0.696, 0.694] }));
    expect(byId(ok, 'projector-matches-full/knn').verdict).toBe('supported');
    // −3, −2.5, −3.5: significantly worse than the margin allows.
    const bad = evaluateClaims(grid([0.7, 0.7, 0.7], { 'simclr-projector': [0.67, 0.675, 0.665] }));
    expect(byId(bad, 'projector-matches-full/knn').verdict).toBe('contradicted');
  });

  it('tests "matters little" as equivalence within the margin (two one-sided tests)', () => {
    const near = evaluateClaims(grid([0.7, 0.7, 0.7], { 'first-1': [0.701, 0.699, 0.7] }));
    expect(byId(near, 'early-ema-matters-little/knn').verdict).toBe('supported');
    const far = evaluateClaims(grid([0.7, 0.7, 0.7], { 'first-1': [0.75, 0.76, 0.74] }));
    expect(byId(far, 'early-ema-matters-little/knn').verdict).toBe('contradicted');
  });

  it('compares last-k with first-k at equal k, last-1 being projector-only', () => {
    const over: Record<string, number[]> = {};
    for (let k = 1; k <= 5; k++) over[`first-${k}`] = [0.7, 0.7, 0.7];
    for (const id of ['simclr-projector', 'last-2', 'last-3', 'last-4', 'last-5']) over[id] = [0.72, 0.73, 0.71];
    const c = byId(evaluateClaims(grid([0.7, 0.7, 0.7], over)), 'late-ema-matters-more/knn');
    expect(c.mean).toBeCloseTo(2, 9);
    expect(c.verdict).toBe('supported');
  });

  it('pairs only seeds present on both sides and reports missing data', () => {
    const rs = grid([0.7, 0.7, 0.7], { 'simclr-full': [0.72, 0.73, 0.71] }).filter((r) => !(r.variant === 'simclr-full' && r.seed === 2));
    expect(byId(evaluateClaims(rs), 'ema-improves-simclr/knn').seeds).toBe(2);
    const none = evaluateClaims(rs.filter((r) => r.variant !== 'moco'));
    expect(byId(none, 'moco-beats-simclr/knn')).toMatchObject({ seeds: 0, verdict: 'no data' });
    // No gradient windows recorded: no data either, not a fabricated zero.
    expect(byId(none, 'late-gradients-fluctuate/cv').verdict).toBe('no data');
  });
});

describe('gradient CV', () => {
  it('leaves out the first window and averages the rest per part', () => {
    const r = run('simclr', 0, 0.7, {
      cvOverTraining: [
        [50, [9, 9, 9, 9, 9, 9]],
        [100, [0.2, 0.1, 0.1, 0.1, 0.3, 0.5]],
        [150, [0.4, 0.1, 0.1, null, 0.1, 0.3]],
      ],
    });
    const cv = steadyCv(r);
    expect(cv[0]).toBeCloseTo(0.3, 12);
    expect(cv[3]).toBeCloseTo(0.1, 12);
    // mean(layer4 0.2, projector 0.4) − mean(stem 0.3, layer1 0.1)
    expect(lateMinusEarlyCv(r)).toBeCloseTo(0.1, 12);
  });

  it('compares the last window\'s relative change of the final parts with the first parts', () => {
    const rel = [0.09, 0.07, 0.06, 0.05, 0.04, 0.08];
    const grad = PART_NAMES.map((part, b) => ({ part, n: 50, meanRms: 1, cv: 0, meanRelChange: rel[b], probeCosine: null }));
    // mean(0.04, 0.08) − mean(0.09, 0.07)
    expect(lateMinusEarlyRelChange(run('simclr', 0, 0.7, { grad }))).toBeCloseTo(-0.02, 12);
    expect(lateMinusEarlyRelChange(run('simclr', 0, 0.7))).toBeUndefined();
  });
});

describe('renderClaimsMarkdown', () => {
  it('writes one well-formed row per claim', () => {
    const claims = evaluateClaims(grid([0.7, 0.71, 0.72], { 'simclr-full': [0.72, 0.73, 0.71] }));
    const lines = renderClaimsMarkdown(claims).split('\n');
    expect(lines).toHaveLength(CLAIMS.length + 2);
    // Eight cells per row: no cell may contain an unescaped pipe.
    for (const l of lines) expect(l.split(/(?<!\\)\|/).length - 2).toBe(8);
    expect(lines.join('\n')).not.toMatch(/NaN|undefined/);
  });
});

describe('committed full results', () => {
  const root = path.join(__dirname, '../../..');
  let summary: { claims: ClaimResult[]; results: RunResult[] };
  beforeAll(() => {
    summary = JSON.parse(fs.readFileSync(path.join(root, 'docs/results/summary.json'), 'utf8'));
  });

  it('cover every configuration of the committed full run with at least three seeds', () => {
    // The 'framework' group (SimSiam, BYOL, DINO) came after that run; the long run covers it.
    for (const v of VARIANTS.filter((x) => x.group !== 'framework')) expect(new Set(summary.results.filter((r) => r.variant === v.id && r.mode === 'full').map((r) => r.seed)).size).toBeGreaterThanOrEqual(3);
  });

  it('carry the claims that their runs give', () => {
    // JSON turns NaN into null; compare through the same round trip.
    expect(summary.claims).toEqual(JSON.parse(JSON.stringify(evaluateClaims(summary.results))));
  });

  it('match docs/results/claims.md (the README block: readme.test.ts)', () => {
    expect(fs.readFileSync(path.join(root, 'docs/results/claims.md'), 'utf8').trim()).toBe(renderClaimsMarkdown(summary.claims));
  });
});
