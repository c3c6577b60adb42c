// The shipped 2-hour recipe: the CLI accepts it as it is, and a few steps of it (budget and
// evaluation sizes overridden by flags) run end to end with its method, EMA and optimizer.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { main } from '../../lib/cli';
import { repoRoot } from '../helpers/child';

const RECIPE = path.join(repoRoot, 'recipes', 'fashion-mnist-2h.yaml');

test('recipes/fashion-mnist-2h.yaml: the CLI runs it (a few steps) and it is shipped', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mssl-recipe-'));
  try {
    let stdout = '';
    let stderr = '';
    const args = ['pretrain', '--config', RECIPE, '--steps', '3', '--set', 'optimizer.warmupSteps=1', '--batch-size', '16', '--out', dir, '--train-subset', '300', '--test-subset', '100', '--report', path.join(dir, 'report.html'), '--progress', 'none'];
    const code = await main(args, { out: (s) => (stdout += s), err: (s) => (stderr += s) });
    expect(stderr).toBe('evaluating on 300 train / 100 test images of fashion-mnist ...\n');
    expect(code).toBe(0);
    expect(stdout).toMatch(/trained: simclr \(ema projector, objective ntxent\) on fashion-mnist\/train, 3 steps/);
    expect(stdout).toMatch(/linear probe top-1/);
    const run = JSON.parse(fs.readFileSync(path.join(dir, 'run.json'), 'utf8'));
    // The recipe's own choices: the whole train split, projector-only momentum, its optimizer.
    expect([run.method, run.ema, run.subset, run.seed]).toEqual(['simclr', 'projector', 0, 0]);
    expect(run.config.ema).toEqual({ parts: 'projector', base: 0.99, final: 1 });
    expect([run.config.optimizer.lr, run.config.objective.temperature]).toEqual([0.3, 0.2]);
    expect(fs.existsSync(path.join(dir, 'report.html'))).toBe(true);
    // --eval writes the accuracies the CLI printed, shaped like the demo's results.json.
    const results = JSON.parse(fs.readFileSync(path.join(dir, 'results.json'), 'utf8'));
    expect([results.dataset, results.method, results.ema, results.stepsDone]).toEqual(['fashion-mnist/train', 'simclr', ['projector'], 3]);
    const knn = results.evaluation.learned.knn.top1;
    expect(knn).toBeGreaterThanOrEqual(0);
    expect(knn).toBeLessThanOrEqual(1);
    expect(stdout).toContain((knn * 100).toFixed(2));
    expect(results.evaluation.learned.linear.testAccuracy).toBeGreaterThan(0);
    expect(results.totalSeconds).toBeGreaterThanOrEqual(results.trainSeconds);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8'));
  expect(pkg.files).toContain('recipes/');
});
