import { evaluateClaims } from '../../../scripts/reproduce/claims';
import { renderReport, renderTable } from '../../../scripts/reproduce/report';
import type { RunResult } from '../../../scripts/reproduce/variants';
import { fakeRun } from '../../helpers/reproduceRuns';
import { VARIANTS } from '../../../scripts/reproduce/variants';

function run(variant: string, seed: number): RunResult {
  const knn = 0.7 + 0.01 * seed + (variant.startsWith('last') ? 0.02 : 0);
  return fakeRun(variant, seed, knn, {
    linearTop1: knn + 0.08,
    msPerStep: 400 + seed,
    keyBranchMsPerStep: 100,
    cvOverTraining: [50, 100, 150].map((s) => [s, [0.3, 0.2, 0.1, 0.1, 0.1, s === 100 ? null : 0.2]] as [number, (number | null)[]]),
  });
}

const results = VARIANTS.flatMap((v) => [0, 1, 2].map((s) => run(v.id, s)));

describe('reproduce report', () => {
  it('tables every configuration with mean ± std over seeds and the steady gradient CV', () => {
    const lines = renderTable(results).split('\n');
    expect(lines).toHaveLength(VARIANTS.length + 2);
    const simclr = lines.find((l) => l.startsWith('SimCLR '))!;
    // kNN 70, 71, 72 → 71.0 ± 1.0; CV of stem over the windows after the first: 0.300.
    expect(simclr).toContain('71.0 ± 1.0');
    expect(simclr).toContain('0.300');
    // Projector CV has one window left after the first (the other is null): 0.200.
    expect(simclr.trim().endsWith('0.200')).toBe(true);
  });

  it('renders the claims, the sweep and the gradient charts, with ± std error bars over seeds', async () => {
    const html = await renderReport(results, { command: 'npm run reproduce', window: '50' }, renderTable(results), evaluateClaims(results));
    expect(html).toContain("<h2>The paper's claims</h2>");
    expect(html).toContain('Projector-only EMA matches or beats full EMA');
    expect(html).toContain('kNN top-1 % by number of EMA parts k');
    expect(html).toContain('Gradient CV by part over training: simclr (mean over 3 seeds, window 50)');
    expect(html).not.toMatch(/NaN|undefined/);
    expect(html).toContain('Accuracy by EMA configuration (mean ± std over 3 seeds)');
    expect(html).toContain('Step time by configuration (mean ± std over 3 seeds)');
    expect(html).toContain('aria-roledescription="rule mark"');
  });
});
