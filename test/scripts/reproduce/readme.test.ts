import * as fs from 'fs';
import * as path from 'path';

import { ClaimResult } from '../../../scripts/reproduce/claims';
import { BLOCKS, renderLongSection, updateReadme } from '../../../scripts/reproduce/readme';
import { fakeRun } from '../../helpers/reproduceRuns';

const root = path.join(__dirname, '../../..');

const claim = (group: string, verdict: string): ClaimResult =>
  ({ claim: `c ${group}`, group, comparison: 'a − b', metric: 'kNN top-1 (pt)', test: 'a − b > 0', mean: 1.5, std: 0.5, interval: [1, 2], seeds: 3, agreeing: 3, p: 0.01, verdict }) as unknown as ClaimResult;

describe('README reproduce sections', () => {
  test('the committed README carries what the committed JSON renders (full and long runs)', () => {
    const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
    expect(updateReadme(readme, root)).toBe(readme);
  });

  test('the long section: progress, means over seeds per configuration, claims one heading level down', () => {
    const results = [fakeRun('simclr', 0, 0.8), fakeRun('simclr', 1, 0.82), fakeRun('simclr-projector', 0, 0.85)];
    const text = renderLongSection({ meta: { progress: '3 of 39 runs' }, claims: [claim('Accuracy', 'supported'), claim('Stability', 'undecided')], results });
    const lines = text.split('\n');
    expect(lines[0]).toBe('Progress: 3 of 39 runs. Means ± std over seeds, accuracies on the whole 10k test split:');
    // SimCLR: mean 81.0, sample std of (80, 82) = 1.41; linear is kNN + 5 points in fakeRun.
    expect(lines).toContain('| SimCLR | 2 | 81.0 ± 1.4 | 86.0 ± 1.4 | 400 | 1.0 |');
    expect(lines).toContain('| SimCLR + projector-only EMA (last-1) | 1 | 85.0 | 90.0 | 400 | 1.0 |');
    expect(lines).toContain('#### Accuracy');
    expect(lines).toContain('#### Stability');
    expect(text).not.toMatch(/^### /m);
  });

  test('a README without a block is refused, naming the block', () => {
    expect(() => updateReadme('# nothing here\n', root)).toThrow(/no generated block <!-- claims:start -->/);
    const onlyFirst = `${BLOCKS[0].start}\nold\n${BLOCKS[0].end}\n`;
    expect(() => updateReadme(onlyFirst, root)).toThrow(/long-results:start/);
  });
});
