// npm run reproduce [-- --quick] [--out dir] [--seeds 0,1,2] [--only id,…] [--threads n] [--report-only]
//
// The paper's claims as one command: SimCLR, SimCLR + full EMA, SimCLR + projector-only EMA,
// MoCo v2, and the partial-EMA sweep (first-k: stem, stem..layer1, …; last-k: layer4+projector,
// layer3..projector, …) on Fashion-MNIST with a width-0.25 ResNet-18 on CPU, every configuration
// under the same seeds, data order and step budget. Per run: kNN and linear-probe accuracy,
// ms per step, key-branch ms per step, and per-part gradient statistics (design §5).
//
// Results go to <out>/results.jsonl, one line per (configuration, seed), and are reused when the
// command runs again: an interrupted run resumes from its own checkpoint, finished ones are
// skipped (so running it again after a finished run only re-renders; --report-only renders
// whatever is there without running anything). At the end: the table and
// the claims (claims.ts) are printed, and <out>/report.html, summary.json and claims.md written.
import * as fs from 'fs';
import * as path from 'path';
import { parseArgs } from 'util';

import { GradMonitor, info, setNumThreads } from '../../lib';
import type { StepEvent } from '../../lib';
import { mean } from '../../lib/analysis/stats';
import { openDataset, seededSubset } from '../../lib/data/open';
import { evaluateRepresentation } from '../../lib/eval/representation';
import { pretrain } from '../../lib/train/pretrain';
import { evaluateClaims, renderClaimsMarkdown } from './claims';
import { renderReport, renderTable } from './report';
import { Budget, MODES, RunResult, Variant, VARIANTS } from './variants';

function readResults(file: string): RunResult[] {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .map((line, i) => ({ line, n: i + 1 }))
    .filter(({ line }) => line.trim() !== '')
    .map(({ line, n }) => {
      try {
        return JSON.parse(line) as RunResult;
      } catch {
        // A line cut off by a killed process: say where, rather than lose every other result.
        throw new Error(`${file}: line ${n} is not valid JSON (a run cut off while writing?); delete that line and run again`);
      }
    });
}

async function runOne(v: Variant, seed: number, mode: string, b: Budget, outDir: string, evalTrain: Awaited<ReturnType<typeof openDataset>>, evalTest: Awaited<ReturnType<typeof openDataset>>): Promise<RunResult> {
  const started = Date.now();
  const monitor = new GradMonitor(b.window);
  const times: { total: number[]; key: number[]; forward: number[] } = { total: [], key: [], forward: [] };
  const cvOverTraining: RunResult['cvOverTraining'] = [];
  let lastLoss = NaN;
  // The budget is in the name so a checkpoint is only ever resumed by the same budget.
  const runDir = path.join(outDir, 'runs', `${v.id}-seed${seed}-${b.steps}x${b.batchSize}`);
  const onStep = (e: StepEvent) => {
    monitor.push(e);
    lastLoss = e.loss;
    const ms = Object.values(e.ms).reduce((a, x) => a + x, 0);
    if (e.step > 1) {
      // The first step of a process pays one-off allocation costs.
      times.total.push(ms);
      times.key.push(e.ms.keyBranch);
      times.forward.push(e.ms.forward);
    }
    if (e.step % b.window === 0) cvOverTraining.push([e.step, monitor.summary().map((s) => (Number.isFinite(s.cv) ? s.cv : null))]);
  };
  const r = await pretrain({
    dataset: 'fashion-mnist',
    method: v.method,
    ema: v.ema,
    subset: b.trainSubset,
    steps: b.steps,
    batchSize: b.batchSize,
    seed,
    outDir: runDir,
    checkpointEvery: Math.max(10, Math.floor(b.steps / 6)),
    resume: true,
    progress: 'none',
    model: { gradMonitor: { enabled: true } },
    onStep,
  });
  try {
    const ev = await evaluateRepresentation(r.model, evalTrain, evalTest, { pixels: false });
    return {
      variant: v.id,
      seed,
      mode,
      steps: r.fit.steps,
      knnTop1: ev.learned.knn.top1,
      linearTop1: ev.learned.linear?.testAccuracy ?? null,
      pixelsKnnTop1: null,
      msPerStep: times.total.length ? mean(times.total) : NaN,
      keyBranchMsPerStep: times.key.length ? mean(times.key) : NaN,
      forwardMsPerStep: times.forward.length ? mean(times.forward) : NaN,
      finalLoss: lastLoss,
      grad: monitor.summary(),
      cvOverTraining,
      resumed: r.fit.resumedFrom !== undefined,
      wallSeconds: (Date.now() - started) / 1000,
    };
  } finally {
    r.dispose();
  }
}

/** Runs every (configuration, seed) not in `done`, appending each to results.jsonl; returns how many ran. */
async function runMissing(variants: Variant[], mode: string, budget: Budget, outDir: string, done: RunResult[]): Promise<number> {
  const test = await openDataset('fashion-mnist', 'test');
  const fullTrain = await openDataset('fashion-mnist', 'train');
  const evalTrain = fullTrain.subset(seededSubset(fullTrain.length, budget.evalTrain, 12345));
  const evalTest = test.subset(seededSubset(test.length, budget.evalTest, 54321));
  fullTrain.dispose();
  test.dispose();

  let executed = 0;
  const total = variants.length * budget.seeds.length;
  let i = 0;
  try {
    for (const seed of budget.seeds) {
      for (const v of variants) {
        i++;
        if (done.some((r) => r.variant === v.id && r.seed === seed)) continue;
        const r = await runOne(v, seed, mode, budget, outDir, evalTrain, evalTest);
        fs.appendFileSync(path.join(outDir, 'results.jsonl'), JSON.stringify(r) + '\n');
        done.push(r);
        executed++;
        console.log(`[${i}/${total}] ${v.id} seed ${seed}: kNN ${(100 * r.knnTop1).toFixed(1)}% linear ${r.linearTop1 === null ? '-' : (100 * r.linearTop1).toFixed(1) + '%'} ${r.msPerStep.toFixed(0)} ms/step (key ${r.keyBranchMsPerStep.toFixed(1)} ms) in ${r.wallSeconds!.toFixed(0)} s`);
      }
    }
  } finally {
    evalTrain.dispose();
    evalTest.dispose();
  }
  return executed;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      out: { type: 'string' },
      seeds: { type: 'string' },
      only: { type: 'string' },
      threads: { type: 'string' },
      'report-only': { type: 'boolean', default: false },
    },
  });
  const mode = values.quick ? 'quick' : 'full';
  const budget: Budget = { ...MODES[mode] };
  if (values.seeds) budget.seeds = values.seeds.split(',').map((s) => Number(s.trim()));
  if (budget.seeds.some((s) => !Number.isInteger(s) || s < 0)) throw new Error('--seeds must be a comma-separated list of integers >= 0');
  const only = values.only?.split(',').map((id) => id.trim());
  const unknown = only?.filter((id) => !VARIANTS.some((v) => v.id === id)) ?? [];
  if (unknown.length) throw new Error(`--only: unknown configuration ${unknown.join(', ')}; known: ${VARIANTS.map((v) => v.id).join(', ')}`);
  const variants = only ? VARIANTS.filter((v) => only.includes(v.id)) : VARIANTS;
  if (values.threads) setNumThreads(Number(values.threads));
  const outDir = path.resolve(values.out ?? path.join('runs', `reproduce-${mode}`));
  fs.mkdirSync(outDir, { recursive: true });
  const resultsFile = path.join(outDir, 'results.jsonl');
  // Results of another budget (an older quick mode, say) are kept in the file but not reused.
  const done = readResults(resultsFile).filter((r) => r.mode === mode && r.steps === budget.steps);

  const t0 = Date.now();
  const executed = values['report-only'] ? 0 : await runMissing(variants, mode, budget, outDir, done);

  const results = done.filter((r) => variants.some((v) => v.id === r.variant) && budget.seeds.includes(r.seed));
  if (results.length === 0) throw new Error(`no ${mode}-mode results of ${budget.steps} steps in ${resultsFile} for these configurations and seeds; run without --report-only first`);
  const table = renderTable(results);
  console.log(`\n${table}\n`);
  const claims = evaluateClaims(results);
  const claimsMd = renderClaimsMarkdown(claims);
  console.log(`${claimsMd}\n`);
  const rt = info();
  const meta: Record<string, string> = {
    command: `npm run reproduce${mode === 'quick' ? ' -- --quick' : ''}`,
    mode,
    'data': `Fashion-MNIST: pretrain on a seeded subset of ${budget.trainSubset}, evaluate on ${budget.evalTrain} train / ${budget.evalTest} test`,
    model: 'ResNet-18, width 0.25, CIFAR stem, projector 512-128',
    budget: `${budget.steps} steps x batch ${budget.batchSize}, seeds ${budget.seeds.join(',')}`,
    window: String(budget.window),
    machine: `${require('os').cpus()[0]?.model ?? 'cpu'}, ${require('os').cpus().length} cores, LibTorch ${rt.torchVersion}, ${rt.numThreads} threads`,
    node: process.version,
  };
  const wall = results.map((r) => r.wallSeconds).filter((x): x is number => x !== undefined);
  if (wall.length) meta['run wall time (recorded runs)'] = `${(wall.reduce((a, x) => a + x, 0) / 60).toFixed(0)} min over ${wall.length} runs`;
  if (executed) meta['this invocation'] = `${executed} runs in ${((Date.now() - t0) / 60000).toFixed(1)} min`;
  const reportPath = path.join(outDir, 'report.html');
  fs.writeFileSync(reportPath + '.tmp', await renderReport(results, meta, table, claims));
  fs.renameSync(reportPath + '.tmp', reportPath);
  fs.writeFileSync(path.join(outDir, 'summary.json'), JSON.stringify({ meta, variants: VARIANTS, claims, results }, null, 2));
  fs.writeFileSync(path.join(outDir, 'claims.md'), claimsMd + '\n');
  console.log(`report: ${reportPath}`);
}

main().catch((e) => {
  console.error(`reproduce: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
