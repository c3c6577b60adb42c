// npm run dp:measure [-- --steps 30 --batch-size 64]
//
// What data parallelism costs here: 2 ranks × 1 thread (launch --standalone) against 1 process ×
// 2 threads at the same global batch, on the package's default model (width-0.25 ResNet-18) and
// Fashion-MNIST: ms per step, ms inside collectives (gradient all-reduce + negative gathers) and
// their share of the step, and gradient bytes all-reduced per step. Then a paper estimate for
// clusters: gradient bytes per step of full-width ResNet-18 / ResNet-50 SimCLR models (counted from
// the models themselves) and ring all-reduce time 2(W−1)/W · bytes / bandwidth at 10 and 100 Gb/s.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseArgs } from 'util';

import { SslModel } from '../../lib';
import { readSteps, runCli, StepLine } from './common';

const mean = (xs: number[]) => xs.reduce((a, x) => a + x, 0) / Math.max(1, xs.length);

function summarise(steps: StepLine[]): { stepMs: number; commMs: number; allReduceMs: number; bytes: number } {
  const s = steps.slice(2); // the first steps pay one-off allocations
  return {
    stepMs: mean(s.map((x) => Object.values(x.ms).reduce((a, v) => a + v, 0))),
    commMs: mean(s.map((x) => x.communicationMs)),
    allReduceMs: mean(s.map((x) => x.ms.allReduce)),
    bytes: mean(s.map((x) => x.allReduceBytes)),
  };
}

function main(): void {
  const { values } = parseArgs({ options: { steps: { type: 'string', default: '30' }, 'batch-size': { type: 'string', default: '64' } } });
  const B = Number(values['batch-size']);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mssl-dp-measure-'));
  const base = ['pretrain', '--dataset', 'fashion-mnist', '--subset', '8192', '--steps', values.steps!, '--progress', 'none'];
  runCli([...base, '--batch-size', String(B), '--out', path.join(dir, 'ranks')], 2, { OMP_NUM_THREADS: '1' });
  runCli([...base, '--batch-size', String(2 * B), '--out', path.join(dir, 'single')], 1, { OMP_NUM_THREADS: '2' });
  const dp = summarise(readSteps(path.join(dir, 'ranks')));
  const one = summarise(readSteps(path.join(dir, 'single')));
  fs.rmSync(dir, { recursive: true, force: true });
  const cpu = os.cpus()[0]?.model ?? 'cpu';
  const avx512 = fs.existsSync('/proc/cpuinfo') && /avx512f/.test(fs.readFileSync('/proc/cpuinfo', 'utf8'));
  console.log(`machine: ${cpu}, ${os.cpus().length} cores, ${avx512 ? 'AVX-512' : 'no AVX-512'}; SimCLR, width-0.25 ResNet-18, global batch ${2 * B}, ${values.steps} steps`);
  console.log('| configuration | ms / step | ms in collectives | share of the step | gradient bytes all-reduced / step |');
  console.log('|---|---:|---:|---:|---:|');
  console.log(`| 2 ranks x 1 thread, batch ${B} each | ${dp.stepMs.toFixed(0)} | ${dp.commMs.toFixed(1)} (all-reduce phase ${dp.allReduceMs.toFixed(1)}) | ${((100 * dp.commMs) / dp.stepMs).toFixed(1)} % | ${(dp.bytes / 2 ** 20).toFixed(2)} MiB |`);
  console.log(`| 1 process x 2 threads, batch ${2 * B} | ${one.stepMs.toFixed(0)} | 0 | 0 % | 0 |`);
  console.log(`ratio (2 ranks / 1 process): ${(dp.stepMs / one.stepMs).toFixed(2)}x time per global step`);

  console.log('\nPaper estimate: gradient all-reduce per step (fp32), ring algorithm, bandwidth-bound (latency ignored)');
  console.log('| model (SimCLR, projector 2048-128) | parameters | bytes / step | W=8 at 10 Gb/s | W=8 at 100 Gb/s | W=64 at 10 Gb/s | W=64 at 100 Gb/s |');
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  for (const depth of [18, 50] as const) {
    const m = SslModel.create({ backbone: { depth, width: 1, stem: 'imagenet' }, projector: { hiddenDim: 2048, outDim: 128 } });
    const params = m.summary().numParameters;
    m.dispose();
    const bytes = 4 * params;
    const t = (w: number, gbps: number) => `${((1000 * 2 * ((w - 1) / w) * bytes * 8) / (gbps * 1e9)).toFixed(0)} ms`;
    console.log(`| ResNet-${depth} | ${(params / 1e6).toFixed(1)} M | ${(bytes / 2 ** 20).toFixed(0)} MiB | ${t(8, 10)} | ${t(8, 100)} | ${t(64, 10)} | ${t(64, 100)} |`);
  }
}

try {
  main();
} catch (e) {
  console.error(`dp:measure: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
}
