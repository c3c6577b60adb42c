// npm run dp:equivalence [-- --steps 20 --batch-size 32 --dtype float64]
//
// `momentum-ssl launch --standalone --nproc-per-node 2 -- pretrain …` against one process at
// double batch, with SyncBatchNorm and the full augmentation keyed by sample (augment.perSample,
// so a sample's views do not depend on its rank or batch position): prints both runs' loss per
// step and the largest relative difference, next to a control: the same single-process run with
// 1 thread instead of 2 (the same arithmetic summed in another order). Exits 1 if the ranks'
// difference exceeds both the tolerance (1e-4) and 10x the control's. (`--identity` disables the
// augmentation instead: with two identical views the task is chaotic, rounding grows ~10x a
// step in either comparison.)
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseArgs } from 'util';

import { IDENTITY_AUGMENT, readSteps, runCli, StepLine, writeConfig } from './common';

function main(): void {
  const { values } = parseArgs({
    options: {
      steps: { type: 'string', default: '20' },
      'batch-size': { type: 'string', default: '32' },
      method: { type: 'string', default: 'simclr' },
      ema: { type: 'string', default: 'none' },
      dtype: { type: 'string', default: 'float64' },
      tolerance: { type: 'string', default: '1e-4' },
      lr: { type: 'string', default: '0.05' },
      optimizer: { type: 'string', default: 'sgd' },
      momentum: { type: 'string', default: '0.9' },
      identity: { type: 'boolean', default: false },
    },
  });
  const B = Number(values['batch-size']);
  const tol = Number(values.tolerance);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mssl-dp-eq-'));
  const config = writeConfig(dir, {
    dataset: 'fashion-mnist',
    method: values.method,
    ema: values.ema,
    steps: Number(values.steps),
    subset: 4096,
    width: 0.125,
    seed: 0,
    progress: 'none',
    model: { augment: values.identity ? IDENTITY_AUGMENT : { perSample: true }, dataParallel: { syncBatchNorm: true }, dtype: values.dtype, optimizer: { name: values.optimizer, lr: Number(values.lr), momentum: Number(values.momentum) } },
  });
  const base = ['pretrain', '--config', config];
  runCli([...base, '--batch-size', String(B), '--out', path.join(dir, 'ranks')], 2, { OMP_NUM_THREADS: '1' });
  runCli([...base, '--batch-size', String(2 * B), '--out', path.join(dir, 'single')], 1, { OMP_NUM_THREADS: '2' });
  runCli([...base, '--batch-size', String(2 * B), '--out', path.join(dir, 'control')], 1, { OMP_NUM_THREADS: '1' });
  const a = readSteps(path.join(dir, 'ranks'));
  const b = readSteps(path.join(dir, 'single'));
  const c = readSteps(path.join(dir, 'control'));
  if (a.length !== b.length || c.length !== b.length) throw new Error(`step counts differ: ${a.length}, ${b.length}, ${c.length}`);
  let worst = 0;
  let worstControl = 0;
  console.log(`${values.method} (ema ${values.ema}), ${values.dtype}: 2 ranks x ${B} (1 thread each) vs 1 process x ${2 * B} (2 threads); control: 1 process x ${2 * B} (1 thread)`);
  console.log('step  2 ranks          1 process        rel diff   control diff');
  const rel = (x: number, y: number) => Math.abs(x - y) / Math.abs(y);
  for (let i = 0; i < a.length; i++) {
    const d = rel(a[i].loss, b[i].loss);
    const dc = rel(c[i].loss, b[i].loss);
    worst = Math.max(worst, d);
    worstControl = Math.max(worstControl, dc);
    console.log(`${String(a[i].step).padStart(4)}  ${a[i].loss.toFixed(12)}  ${b[i].loss.toFixed(12)}  ${d.toExponential(2)}   ${dc.toExponential(2)}`);
  }
  const firstOver = (xs: StepLine[]) => xs.findIndex((x, i) => rel(x.loss, b[i].loss) > tol);
  const fa = firstOver(a);
  const fc = firstOver(c);
  console.log(`largest relative difference: 2 ranks ${worst.toExponential(2)}, control ${worstControl.toExponential(2)} (tolerance ${tol})`);
  console.log(`first step above the tolerance: 2 ranks ${fa < 0 ? 'none' : a[fa].step}, control ${fc < 0 ? 'none' : c[fc].step}`);
  fs.rmSync(dir, { recursive: true, force: true });
  if (!(worst <= tol || worst <= 10 * worstControl)) process.exit(1);
}

try {
  main();
} catch (e) {
  console.error(`dp:equivalence: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
}
