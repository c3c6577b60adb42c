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

test('docs/results/fashion-mnist-2h: the committed run of the recipe states its accuracies', () => {
  const dir = path.join(repoRoot, 'docs', 'results', 'fashion-mnist-2h');
  const results = JSON.parse(fs.readFileSync(path.join(dir, 'results.json'), 'utf8'));
  const run = JSON.parse(fs.readFileSync(path.join(dir, 'run.json'), 'utf8'));
  const recipeSteps = Number(/^steps: (\d+)$/m.exec(fs.readFileSync(RECIPE, 'utf8'))![1]);
  // The run is of the recipe as shipped: its budget, method and EMA, on the whole splits.
  expect([results.stepsDone, run.steps, run.method, run.ema, run.subset]).toEqual([recipeSteps, recipeSteps, 'simclr', 'projector', 0]);
  const knn = results.evaluation.learned.knn.top1;
  const linear = results.evaluation.learned.linear.testAccuracy;
  expect([results.evaluation.trainSize, results.evaluation.testSize]).toEqual([60000, 10000]);
  expect(results.reached).toEqual({ knn: knn >= 0.86, linear: linear >= 0.88 });
  // The README there quotes the numbers, and the curve ends at the final checkpoint.
  const readme = fs.readFileSync(path.join(dir, 'README.md'), 'utf8');
  expect(readme).toContain(`**${(knn * 100).toFixed(2)} %**`);
  expect(readme).toContain(`**${(linear * 100).toFixed(2)} %**`);
  const curve = fs.readFileSync(path.join(dir, 'curve.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  expect(curve.at(-1)).toEqual({ step: recipeSteps, knnTop1: knn, linearTop1: linear });
  expect(curve.map((c) => c.step)).toEqual([...curve.map((c) => c.step)].sort((a, b) => a - b));
});
