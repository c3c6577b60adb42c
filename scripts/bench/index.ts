// `npm run bench [-- --quick] [-- --json out.json] [-- --only name,name]`
// Runs each benchmark on our code and on its Python/PyTorch peer (scripts/bench/peers.py, Debian's
// /usr/bin/python3 with python3-torch 1.13: the same LibTorch), alternating the two sides rep by
// rep in this one run, and prints medians and ratios with the machine they ran on.
import { execFileSync, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import {
  BatchAugmenter,
  disposeAll,
  FlatEma,
  ImageDataset,
  info,
  loadFashionMnist,
  ntXentPair,
  setNumThreads,
  SslModel,
  Tensor,
} from '../../lib';
import { benchBinding as binding } from './binding';
import { BenchExtras, cpuFlags, LineChild, median, now, PYTHON } from './common';
import { convFlops, stepFlops } from './flops';
import { BenchRow, renderTable } from './readme-table';

const THREADS = 2;
const args = process.argv.slice(2);
const QUICK = args.includes('--quick');
const jsonIdx = args.indexOf('--json');
const JSON_OUT = jsonIdx >= 0 ? args[jsonIdx + 1] : undefined;
const onlyIdx = args.indexOf('--only');
const ONLY = onlyIdx >= 0 ? new Set(args[onlyIdx + 1].split(',')) : null;
const HERE = __dirname;
const ROOT = path.resolve(HERE, '..', '..');

interface Row extends BenchRow {
  met: 'yes' | 'NO' | '—';
  data: Record<string, unknown>;
}
const rows: Row[] = [];
const notes: string[] = [];

function log(msg: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

const fmtMs = (s: number) =>
  s >= 1 ? `${s.toFixed(2)} s` : s >= 1e-3 ? `${(s * 1e3).toFixed(s >= 0.1 ? 0 : 2)} ms` : s >= 1e-6 ? `${(s * 1e6).toFixed(1)} µs` : `${(s * 1e6).toFixed(3)} µs`;
const fmtX = (x: number) => `${x.toFixed(2)}×`;

function addRow(r: Row): void {
  // A missed goal without a measured reason gets at least the spread of this run's samples, so
  // the reader can tell a near miss within the noise from a real one.
  const smp = r.data.samples as Record<string, number[]> | undefined;
  if (r.met === 'NO' && smp) {
    const f = (v: number[]) => `${fmtMs(Math.min(...v))}–${fmtMs(Math.max(...v))}`;
    const spread = `per-rep times in this run: ${Object.entries(smp).map(([k, v]) => `${k} ${f(v)}`).join('; ')}`;
    r.why = r.why ? `${r.why}; ${spread}` : spread;
  }
  rows.push(r);
  log(`${r.benchmark}: ours ${r.ours} | python ${r.python} | ${r.ratio} | goal ${r.goal} | ${r.met}${r.limit ? ` | machine: ${r.limit}` : ''}`);
}

const extras = (): BenchExtras => binding() as unknown as BenchExtras;
/** Whether the fused EMA can run the `isa` kernel here (forcing it throws otherwise). */
function hasIsa(isa: string): boolean {
  try {
    extras().benchEmaIsa(isa);
    return true;
  } catch {
    return false;
  } finally {
    extras().benchEmaIsa('auto');
  }
}
/** Limits measured in this run (roofline): filled by benchRoofline and the EMA bandwidth rows. */
const machineLimits: { sgemmGflops?: number; convGflops?: Record<string, number>; addGBs?: number } = {};

/** Runs `sides` alternately for `reps` rounds (order rotated each round), collecting samples. */
async function alternate(reps: number, sides: Record<string, () => Promise<number>>): Promise<Record<string, number[]>> {
  const names = Object.keys(sides);
  const out: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < reps; r++) {
    for (let i = 0; i < names.length; i++) {
      const n = names[(i + r) % names.length];
      out[n].push(await sides[n]());
    }
  }
  return out;
}

const want = (id: string) => ONLY === null || ONLY.has(id);

function randomTensor(shape: number[], seed: number): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const a = new Float32Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    a[i] = (x >>> 0) / 4294967296 - 0.5;
  }
  return Tensor.from(a, shape);
}

// ------------------------------------------------------------------------------------------------
function machine(py: Record<string, unknown>): Record<string, unknown> {
  const cpu = (fs.readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/) ?? [])[1] ?? os.cpus()[0]?.model;
  let blas = 'unknown';
  try {
    const q = execFileSync('update-alternatives', ['--query', 'libblas.so.3-x86_64-linux-gnu'], { encoding: 'utf8' });
    blas = (q.match(/^Value:\s*(.*)$/m) ?? [])[1] ?? 'unknown';
  } catch (e) {
    blas = `update-alternatives failed: ${(e as Error).message.split('\n')[0]}`;
  }
  const ti = info();
  const isa = cpuFlags(fs.readFileSync('/proc/cpuinfo', 'utf8'));
  return {
    cpu,
    cpuKind: isa.kind,
    cpuFlags: isa.flags,
    emaKernel: extras().benchEmaIsa(),
    cores: os.cpus().length,
    memGiB: +(os.totalmem() / 2 ** 30).toFixed(1),
    blas,
    oursThreads: ti.numThreads,
    oursTorch: ti.torchVersion,
    oursParallel: ti.parallelBackend,
    pythonThreads: py.torchThreads,
    pythonTorch: py.torch,
    torchvision: py.torchvision,
    python: py.python,
    node: process.version,
    load: os.loadavg().map((x) => x.toFixed(2)).join(' '),
  };
}

// ------------------------------------------------------------------------------------------------
async function benchNapi(): Promise<void> {
  const b = binding();
  const reps = QUICK ? 3 : 5;
  const nSync = 1_000_000;
  const nAsync = QUICK ? 2000 : 5000;
  const sync: number[] = [];
  const asyncT: number[] = [];
  for (let i = 0; i < 1000; i++) b.benchNoop();
  for (let r = 0; r < reps; r++) {
    let t = now();
    for (let i = 0; i < nSync; i++) b.benchNoop();
    sync.push((now() - t) / nSync);
    t = now();
    for (let i = 0; i < nAsync; i++) await b.benchNoopAsync();
    asyncT.push((now() - t) / nAsync);
  }
  addRow({
    id: 'napi', benchmark: 'N-API trivial call (sync no-op)', ours: fmtMs(median(sync)), python: '—', ratio: '—', goal: 'reported', met: '—',
    data: { syncSeconds: sync, asyncSeconds: asyncT },
  });
  addRow({
    id: 'napi', benchmark: 'N-API async job round trip (torch worker, Promise)', ours: fmtMs(median(asyncT)), python: '—', ratio: '—', goal: 'reported', met: '—',
    data: {},
  });
}

// ------------------------------------------------------------------------------------------------
async function benchEma(py: LineChild, model: 'resnet18' | 'resnet18w025'): Promise<void> {
  const b = binding();
  const setup = await py.request<{ shapes: number[][]; numel: number }>({ cmd: 'ema_setup', model });
  const online = setup.shapes.map((s, i) => randomTensor(s, i + 1));
  const ema = await FlatEma.create(online);
  if (ema.numel !== setup.numel) throw new Error(`EMA numel mismatch: ${ema.numel} vs ${setup.numel}`);
  const numel = ema.numel;
  const bytes = 12 * numel; // read online, read ema, write ema (fp32)
  const big = model === 'resnet18';
  const iters = big ? (QUICK ? 10 : 20) : QUICK ? 100 : 300;
  const reps = QUICK ? 3 : 5;
  const m = 0.99;
  const onlineHandles = online.map((t) => t.handle);
  const sides: Record<string, () => Promise<number>> = {
    oursJs: async () => {
      await ema.update(m);
      const t = now();
      for (let i = 0; i < iters; i++) await ema.update(m);
      return (now() - t) / iters;
    },
    oursNative: () => b.benchFusedEma(onlineHandles, iters, m),
    pyLoop: async () => (await py.request<{ seconds: number }>({ cmd: 'ema_time', impl: 'loop', iters })).seconds,
    pyForeach: async () => (await py.request<{ seconds: number }>({ cmd: 'ema_time', impl: 'foreach', iters })).seconds,
  };
  let bwBuffers: Tensor[] = [];
  if (big) {
    // Machine bandwidth for the same access pattern: a += b over two fp32 buffers of numel
    // elements (read a, read b, write a in place = 12 bytes/element), four ways, same run.
    await py.request({ cmd: 'bw_setup', numel });
    bwBuffers = [randomTensor([numel], 7), randomTensor([numel], 8)];
    const [a, bb] = bwBuffers;
    const bwIters = QUICK ? 10 : 20;
    sides.bwNativeLoop = () => b.benchAddInPlace(a.handle, bb.handle, bwIters, 'loop');
    sides.bwNativeAten = () => b.benchAddInPlace(a.handle, bb.handle, bwIters, 'aten');
    sides.bwPyTorch = async () => (await py.request<{ seconds: number }>({ cmd: 'bw_time', impl: 'torch', iters: bwIters })).seconds;
    sides.bwNumpy = async () => (await py.request<{ seconds: number }>({ cmd: 'bw_time', impl: 'numpy', iters: bwIters })).seconds;
    // The other kernels this CPU can run (forced), so one machine also measures the AVX2 path
    // of an AVX2-only machine or the AVX-512 one we do not pick.
    for (const isa of ['avx512', 'avx2'].filter((k) => k !== extras().benchEmaIsa() && hasIsa(k))) {
      sides[`oursNative_${isa}`] = async () => {
        extras().benchEmaIsa(isa);
        try {
          return await b.benchFusedEma(onlineHandles, iters, m);
        } finally {
          extras().benchEmaIsa('auto');
        }
      };
    }
  }
  log(`EMA ${model}: ${numel} params, ${setup.shapes.length} tensors, ${iters} updates per rep, ${reps} reps`);
  const s = await alternate(reps, sides);
  const med = Object.fromEntries(Object.entries(s).map(([k, v]) => [k, median(v)]));
  const label = big ? 'ResNet-18 + projector' : 'width-0.25 ResNet-18 + projector';
  const pm = `${(numel / 1e6).toFixed(2)} M params`;
  const gbs = (sec: number) => bytes / sec / 1e9;
  if (big) {
    const bwKeys = ['bwNativeLoop', 'bwNativeAten', 'bwPyTorch', 'bwNumpy'];
    const bestKey = bwKeys.reduce((x, y) => (med[x] <= med[y] ? x : y));
    const aten = gbs(med.bwNativeAten);
    const best = gbs(med[bestKey]);
    machineLimits.addGBs = best;
    notes.push(
      `Bandwidth reference: a += b over two fp32 buffers of ${numel} elements (${((numel * 4) / 2 ** 20).toFixed(0)} MiB each), ` +
        `12 bytes/element: ATen add_ (our process) ${aten.toFixed(1)} GB/s, our parallel_for loop ${gbs(med.bwNativeLoop).toFixed(1)} GB/s, ` +
        `torch add_ (Python) ${gbs(med.bwPyTorch).toFixed(1)} GB/s, numpy np.add(a, b, out=a) (1 thread) ${gbs(med.bwNumpy).toFixed(1)} GB/s; best ${best.toFixed(1)} GB/s (${bestKey}).`,
    );
    const isa = extras().benchEmaIsa();
    const kernels: [string, number][] = [[`${isa} (default)`, med.oursNative]];
    for (const k of Object.keys(s).filter((k) => k.startsWith('oursNative_'))) kernels.push([`${k.slice(11)} (forced)`, med[k]]);
    for (const [name, sec] of kernels) {
      const frac = gbs(sec) / aten;
      addRow({
        id: 'ema', benchmark: `fused EMA bandwidth, ${name} kernel, ${label} (${pm})`, ours: `${gbs(sec).toFixed(1)} GB/s`, python: `${aten.toFixed(1)} GB/s (ATen a+=b)`,
          ratio: `${(frac * 100).toFixed(0)} %`, goal: '≥ 90 % of ATen a+=b', met: frac >= 0.9 ? 'yes' : 'NO',
          limit: `${((gbs(sec) / best) * 100).toFixed(0)} % of the best a+=b (${best.toFixed(1)} GB/s)`, data: name.endsWith('(default)') ? { samples: s, bestKey } : {},
      });
    }
  }
  const speedLoop = med.pyLoop / med.oursJs;
  const speedForeach = med.pyForeach / med.oursJs;
  const goalLoop = big ? 1.5 : 3;
  addRow({
    id: 'ema', benchmark: `fused EMA update vs per-param loop, ${label} (${pm})`, ours: fmtMs(med.oursJs), python: fmtMs(med.pyLoop),
    ratio: `py/ours ${fmtX(speedLoop)}`, goal: `≥ ${goalLoop}× faster`, met: speedLoop >= goalLoop ? 'yes' : 'NO',
    limit: `${gbs(med.oursJs).toFixed(1)} GB/s incl. the Promise round trip`,
    // Awaited from JS, each update hands the job to the torch worker and back: on a loaded machine
    // each hand-off waits for the scheduler, which a Python loop on its own thread never does.
    why: speedLoop < goalLoop ? `the kernel alone took ${fmtMs(med.oursNative)} (${fmtX(med.pyLoop / med.oursNative)} faster than the loop), so ${fmtMs(med.oursJs - med.oursNative)} per update was the hand-off to the torch worker and back (load ${os.loadavg()[0].toFixed(1)}); inside SslModel.step the update runs in the step's own job, so training pays the kernel time` : undefined,
    data: big ? {} : { samples: s },
  });
  addRow({
    id: 'ema', benchmark: `fused EMA kernel as inside a training step (native, no Promise) vs per-param loop, ${label} (${pm})`, ours: fmtMs(med.oursNative), python: fmtMs(med.pyLoop),
    ratio: `py/ours ${fmtX(med.pyLoop / med.oursNative)}`, goal: `≥ ${goalLoop}× faster`, met: med.pyLoop / med.oursNative >= goalLoop ? 'yes' : 'NO',
    limit: `${gbs(med.oursNative).toFixed(1)} GB/s; the loop's two passes move 20 B/param, so at equal bandwidth the bound is 1.67×`,
    data: { samples: { oursNative: s.oursNative, pyLoop: s.pyLoop } },
  });
  addRow({
    id: 'ema', benchmark: `fused EMA update vs foreach mul+add, ${label}`, ours: fmtMs(med.oursJs), python: fmtMs(med.pyForeach),
    ratio: `py/ours ${fmtX(speedForeach)}`, goal: big ? '≥ 1.5× faster' : 'reported', met: big ? (speedForeach >= 1.5 ? 'yes' : 'NO') : '—', data: {},
  });
  notes.push(
    `EMA ${label}: ours = FlatEma.update(m) awaited from JS (${fmtMs(med.oursJs)}; the fused kernel timed natively, no Promise: ${fmtMs(med.oursNative)}, ` +
      `${gbs(med.oursNative).toFixed(1)} GB/s at 12 B/param); Python per-param loop ${fmtMs(med.pyLoop)}, foreach ${fmtMs(med.pyForeach)}.`,
  );
  ema.dispose();
  disposeAll(online);
  disposeAll(bwBuffers);
}

// ------------------------------------------------------------------------------------------------
async function benchNtXent(py: LineChild, n: number): Promise<void> {
  const b = binding();
  const d = 128;
  await py.request({ cmd: 'ntxent_setup', n, d });
  const a = randomTensor([n, d], 11);
  const c = randomTensor([n, d], 12);
  const iters = n >= 1024 ? (QUICK ? 5 : 15) : QUICK ? 20 : 60;
  const reps = QUICK ? 3 : 5;
  const s = await alternate(reps, {
    ours: () => b.benchNtXentPair(a.handle, c.handle, iters, 0.2),
    oursJs: async () => {
      const t = now();
      for (let i = 0; i < iters; i++) disposeAll(ntXentPair(a, c, { temperature: 0.2 }).grads);
      return (now() - t) / iters;
    },
    python: async () => (await py.request<{ seconds: number }>({ cmd: 'ntxent_time', iters })).seconds,
  });
  const o = median(s.ours), p = median(s.python), j = median(s.oursJs);
  // The matmuls: forward z·zᵀ and backward's two [2N,2N]·[2N,D] products, 2·(2N)²·D FLOPs each.
  const gemmFlops = 3 * 2 * (2 * n) ** 2 * d;
  addRow({
    id: 'ntxent', benchmark: `NT-Xent fwd+bwd, N=${n}, D=${d}`, ours: fmtMs(o), python: fmtMs(p), ratio: `ours/py ${fmtX(o / p)}`,
    goal: '≤ 1.0× time', met: o / p <= 1.0 ? 'yes' : 'NO',
    limit: machineLimits.sgemmGflops ? `matmuls alone at sgemm peak: ${fmtMs(gemmFlops / (machineLimits.sgemmGflops * 1e9))} (${((gemmFlops / o / 1e9 / machineLimits.sgemmGflops) * 100).toFixed(0)} % of peak over the whole call)` : undefined,
    data: { samples: s },
  });
  notes.push(`NT-Xent N=${n}: ours timed natively (ntXentPair + autograd grads + item, bench binding); through lib/losses ntXentPair from JS (sync call, grads wrapped): ${fmtMs(j)}.`);
  disposeAll([a, c]);
}

// ------------------------------------------------------------------------------------------------
async function benchAugment(py: LineChild, kind: 'fmnist' | 'rgb'): Promise<void> {
  const numImages = QUICK ? 2048 : 4096;
  const batch = 256;
  let ds: ImageDataset;
  if (kind === 'fmnist') {
    const full = await loadFashionMnist('train');
    const idx = Int32Array.from({ length: numImages }, (_, i) => i);
    const sub = full.batch(idx);
    ds = ImageDataset.fromTensors(sub.images, sub.labels, { numClasses: 10 });
    disposeAll([sub.images, sub.labels, sub.index]);
    full.dispose();
  } else {
    const px = new Uint8Array(numImages * 3 * 32 * 32);
    let x = 12345;
    for (let i = 0; i < px.length; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      px[i] = x >>> 24;
    }
    const images = Tensor.from(px, [numImages, 3, 32, 32]);
    const labels = Tensor.from(new Int32Array(numImages), [numImages]);
    ds = ImageDataset.fromTensors(images, labels, { numClasses: 1 });
    disposeAll([images, labels]);
  }
  const aug = new BatchAugmenter({ outSize: 32, scale: [0.2, 1.0] }, 3);
  await py.request({ cmd: 'aug_setup', kind, images: numImages, workers: 2 });
  const sampler = ds.sampler({ batchSize: batch, shuffle: true, seed: 5 });
  const epoch = async () => {
    const t = now();
    for (const idx of sampler) {
      const bt = ds.batch(idx);
      const v = await aug.apply(bt.images);
      disposeAll([v, bt.images, bt.labels, bt.index]);
    }
    return now() - t;
  };
  await epoch();
  const reps = QUICK ? 3 : 5;
  const s = await alternate(reps, {
    ours: epoch,
    python: async () => (await py.request<{ seconds: number }>({ cmd: 'aug_time' })).seconds,
  });
  await py.request({ cmd: 'aug_close' });
  const o = numImages / median(s.ours), p = numImages / median(s.python);
  const what = kind === 'fmnist' ? 'Fashion-MNIST 1×28×28→32' : 'RGB 3×32×32→32 (synthetic)';
  addRow({
    id: 'augment', benchmark: `augmentation, ${what}, one view`, ours: `${Math.round(o).toLocaleString('en-US')} img/s`, python: `${Math.round(p).toLocaleString('en-US')} img/s`,
    ratio: `ours/py ${fmtX(o / p)}`, goal: '≥ 5× img/s', met: o / p >= 5 ? 'yes' : 'NO', data: { samples: s, numImages },
  });
  aug.dispose();
  ds.dispose();
}

// ------------------------------------------------------------------------------------------------
const TS_NODE = path.join(ROOT, 'node_modules', 'ts-node', 'dist', 'bin.js');

async function benchTrainingStep(): Promise<Record<string, unknown>> {
  const batch = 256;
  const outSize = 32;
  const reps = QUICK ? 2 : 5;
  const steps = QUICK ? 1 : 3;
  const ours = new LineChild(process.execPath, [TS_NODE, '--transpile-only', path.join(HERE, 'stepChild.ts'), '--threads', String(THREADS), '--batch', String(batch), '--out-size', String(outSize)]);
  const py = new LineChild(PYTHON, [path.join(HERE, 'peers.py'), 'step', '--threads', String(THREADS), '--batch', String(batch), '--workers', '2', '--out-size', String(outSize)]);
  const [oReady, pReady] = await Promise.all([ours.ready, py.ready]);
  log(`training step: ours ${JSON.stringify(oReady)}; python ${JSON.stringify(pReady)}`);
  // Warm-up: one step each (allocator, first-touch, DataLoader workers).
  await ours.request({ cmd: 'run', steps: 1 });
  await py.request({ cmd: 'run', steps: 1 });
  const run = (c: LineChild) => async () => {
    const r = await c.request<{ seconds: number; steps: number }>({ cmd: 'run', steps });
    return r.seconds / r.steps;
  };
  const s = await alternate(reps, { ours: run(ours), python: run(py) });
  const [oQuit, pQuit] = [await ours.quit(), await py.quit()];
  const o = median(s.ours), p = median(s.python);
  addRow({
    id: 'step', benchmark: `SimCLR training step, width-0.25 ResNet-18, B=${batch}, F-MNIST→${outSize}px, incl. 2-view aug`, ours: fmtMs(o), python: fmtMs(p),
    ratio: `ours/py ${fmtX(o / p)}`, goal: '≤ 0.80× time', met: o / p <= 0.8 ? 'yes' : 'NO',
    limit: machineLimits.convGflops ? `${(stepFlops(batch, outSize) / o / 1e9).toFixed(1)} GFLOP/s of conv+linear over the whole step (${((stepFlops(batch, outSize) / o / 1e9 / Math.max(...Object.values(machineLimits.convGflops))) * 100).toFixed(0)} % of the conv peak)` : undefined,
    why: o / p > 0.8 ? `both sides run the same LibTorch/oneDNN convolution kernels on ${(stepFlops(batch, outSize) / 1e9).toFixed(1)} GFLOP of conv+linear per step (how close to the machine: last column); what differs is data loading and the memory format` : undefined,
    data: { samples: s, stepsPerBlock: steps, flops: stepFlops(batch, outSize) },
  });
  notes.push(
    `Training step (B=${batch}, Fashion-MNIST 28×28 → outSize ${outSize}, 1 channel, SGD m=0.9 wd=1e-4 (no wd on biases/BN), NT-Xent τ=0.2, projector 128→512→128): ` +
      `ours = SslModel.step on a natively gathered uint8 batch (batched augmentation of 2 views inside the step), in a child Node process; ` +
      `python = torchvision per-image transforms of 2 views (RandomResizedCrop(${outSize}, scale=(0.2,1)), HorizontalFlip, RandomApply(ColorJitter(0.4,0.4), p=0.8), ToTensor, Normalize) ` +
      `in a DataLoader(num_workers=2, persistent_workers=True), the same width-0.25 CIFAR-stem ResNet-18 written in Python, textbook NT-Xent, torch.optim.SGD. ` +
      `${reps} alternated blocks of ${steps} step(s) per side after 1 warm-up step; each Python block starts a fresh pass over the loader (its first-batch latency is counted) ` +
      `and its workers are left to go idle before our next block. Per-step medians: ours ${s.ours.map((x) => x.toFixed(2)).join(', ')} s; python ${s.python.map((x) => x.toFixed(2)).join(', ')} s.`,
  );
  const mb = (kb: unknown) => (typeof kb === 'number' ? `${(kb / 1024).toFixed(0)} MiB` : 'n/a');
  const rss = { oursMaxRssKB: oQuit?.maxRssKB, pythonMaxRssKB: pQuit?.maxRssKB, pythonWorkerMaxRssKB: pQuit?.workerMaxRssKB };
  addRow({
    id: 'step', benchmark: 'peak RSS of the training-step process', ours: mb(rss.oursMaxRssKB), python: `${mb(rss.pythonMaxRssKB)} (+2 workers ≤ ${mb(rss.pythonWorkerMaxRssKB)} each)`,
    ratio: typeof rss.oursMaxRssKB === 'number' && typeof rss.pythonMaxRssKB === 'number' ? `ours/py ${fmtX(rss.oursMaxRssKB / rss.pythonMaxRssKB)}` : '—',
    goal: '≤ 1.05×', met: typeof rss.oursMaxRssKB === 'number' && typeof rss.pythonMaxRssKB === 'number' && rss.oursMaxRssKB / rss.pythonMaxRssKB <= 1.05 ? 'yes' : 'NO', data: rss,
  });
  return rss;
}

/**
 * In-process step timings of several models on one dataset stream, alternated: one warm-up step
 * each, then `reps` rounds (order rotated); per model the step seconds and the median-able phase ms.
 */
async function alternateSteps<K extends string>(
  models: Record<K, SslModel>,
  ds: ImageDataset,
  batch: number,
  seed: number,
  reps: number,
): Promise<{ s: Record<string, number[]>; phases: Record<string, Record<string, number[]>> }> {
  const sampler = ds.sampler({ batchSize: batch, dropLast: true, shuffle: true, seed });
  const names = Object.keys(models) as K[];
  let phases: Record<string, Record<string, number[]>> = {};
  const stepOf = (name: K) => async () => {
    const b = ds.batch(sampler.next());
    const t = now();
    const r = await models[name].step(b.images);
    const dt = now() - t;
    for (const [k, v] of Object.entries(r.ms)) ((phases[name] ??= {})[k] ??= []).push(v);
    disposeAll([b.images, b.labels, b.index]);
    return dt;
  };
  for (const k of names) await stepOf(k)();
  phases = {};
  const s = await alternate(reps, Object.fromEntries(names.map((k) => [k, stepOf(k)])));
  return { s, phases };
}

/** What projector-only EMA adds to a plain step, from the phase times: the EMA-specific phases. */
function projectorOnlyWhy(phases: Record<string, Record<string, number[]>>, plainSeconds: number): string {
  const extraOf = (k: string) => ['keyBranch', 'loss', 'ema'].reduce((a, p) => a + median(phases[k][p] ?? [0]), 0);
  const extra = extraOf('projector') - extraOf('plain');
  const fb = (k: string) => median(phases[k].forward) + median(phases[k].backward);
  return (
    `the phases projector-only EMA adds (key branch, the second loss direction, the EMA update) cost ${extra.toFixed(1)} ms = ` +
    `${((extra / 1e3 / plainSeconds) * 100).toFixed(2)} % of the plain step; the rest is forward+backward varying between rounds ` +
    `(median ${fb('projector').toFixed(0)} vs ${fb('plain').toFixed(0)} ms for the same work)`
  );
}

async function benchEmaVariants(): Promise<void> {
  const batch = 256;
  const ds = await loadFashionMnist('train');
  const mk = (parts: 'none' | 'projector' | 'full') => SslModel.create({ backbone: { inChannels: 1 }, ema: { parts } });
  const models = { plain: mk('none'), projector: mk('projector'), full: mk('full') };
  const reps = QUICK ? 2 : 7;
  const { s, phases } = await alternateSteps(models, ds, batch, 2, reps);
  const pl = median(s.plain), pr = median(s.projector), fu = median(s.full);
  // Paired: the three configs of a round ran back to back, so their ratio sees the same load.
  const prRatio = median(s.projector.map((x, i) => x / s.plain[i]));
  const fuRatio = median(s.full.map((x, i) => x / s.plain[i]));
  const phaseStr = (k: string) =>
    Object.entries(phases[k])
      .map(([p, v]) => `${p} ${median(v).toFixed(0)}`)
      .join(', ');
  notes.push(`EMA variants (ours, in-process, ${reps} rounds of one step per config, order rotated): ratio = median over rounds of step time / the same round's plain step time.`);
  notes.push(`EMA variants, median phase ms — plain: ${phaseStr('plain')}; projector: ${phaseStr('projector')}; full: ${phaseStr('full')}.`);
  addRow({
    id: 'emaStep', benchmark: 'projector-only EMA step vs plain SimCLR step (ours)', ours: fmtMs(pr), python: `plain ${fmtMs(pl)}`, ratio: fmtX(prRatio),
    goal: '≤ 1.02×', met: prRatio <= 1.02 ? 'yes' : 'NO', data: { samples: s, phases },
    why: prRatio > 1.02 ? projectorOnlyWhy(phases, pl) : undefined,
  });
  addRow({
    id: 'emaStep', benchmark: 'full-encoder EMA step vs plain SimCLR step (ours)', ours: fmtMs(fu), python: `plain ${fmtMs(pl)}`, ratio: fmtX(fuRatio),
    goal: 'reported', met: '—', data: {},
  });
  for (const m of Object.values(models)) m.dispose();
  ds.dispose();
}


// ------------------------------------------------------------------------------------------------
// Roofline: this machine's fp32 matmul and convolution rates on the same threads, same run.
async function benchRoofline(): Promise<void> {
  const x = extras();
  const reps = QUICK ? 2 : 3;
  const sg = 1024;
  const sgemm: number[] = [];
  for (let r = 0; r < reps; r++) sgemm.push(await x.benchMatmul(sg, sg, sg, QUICK ? 5 : 10));
  const sgemmGflops = (2 * sg ** 3) / median(sgemm) / 1e9;
  machineLimits.sgemmGflops = sgemmGflops;
  // Three layer shapes of the benchmarked model (16 ch at 32×32, 32 at 16×16, 64 at 8×8), batch 512
  // (both views of B 256), 3×3, forward + backward (input and weight gradients), each layout.
  const shapes: [string, number, number, number][] = [
    ['layer1 16→16 @32²', 512, 16, 32],
    ['layer2 32→32 @16²', 512, 32, 16],
    ['layer3 64→64 @8²', 512, 64, 8],
  ];
  const conv: Record<string, number> = {};
  const sides: Record<string, () => Promise<number>> = {};
  for (const [name, b, c, hw] of shapes) {
    for (const cl of [false, true]) sides[`${name} ${cl ? 'NHWC' : 'NCHW'}`] = () => x.benchConv2d(b, c, c, hw, 3, QUICK ? 2 : 4, cl, true);
  }
  const s = await alternate(reps, sides);
  for (const [name, b, c, hw] of shapes) {
    for (const fmt of ['NCHW', 'NHWC']) conv[`${name} ${fmt}`] = (3 * b * convFlops(c, c, 3, hw)) / median(s[`${name} ${fmt}`]) / 1e9;
  }
  machineLimits.convGflops = conv;
  const best = Math.max(...Object.values(conv));
  addRow({
    id: 'roofline', benchmark: `machine: fp32 sgemm ${sg}³, ${THREADS} threads`, ours: `${sgemmGflops.toFixed(1)} GFLOP/s`, python: '—', ratio: '—', goal: 'reported', met: '—',
    limit: 'the matmul limit of the rows below', data: { sgemmSeconds: sgemm },
  });
  addRow({
    id: 'roofline', benchmark: `machine: oneDNN conv 3×3 fwd+bwd, B 512 (${Object.entries(conv).map(([k, v]) => `${k} ${v.toFixed(1)}`).join('; ')} GFLOP/s)`,
    ours: `${best.toFixed(1)} GFLOP/s`, python: '—', ratio: '—', goal: 'reported', met: '—', limit: 'the convolution limit of the step rows', data: { samples: s, gflops: conv },
  });
}

// ------------------------------------------------------------------------------------------------
// Channels-last vs NCHW, our step in-process (plain SimCLR, B 256), alternated; the phase times give
// the step's achieved conv+linear GFLOP/s against the conv peak measured above.
async function benchChannelsLast(): Promise<void> {
  const batch = 256;
  const ds = await loadFashionMnist('train');
  const mk = (channelsLast: boolean) => SslModel.create({ backbone: { inChannels: 1 }, ema: { parts: 'none' }, channelsLast });
  const models = { nchw: mk(false), nhwc: mk(true) };
  const { s, phases } = await alternateSteps(models, ds, batch, 3, QUICK ? 3 : 6);
  const ratio = median(s.nhwc.map((x, i) => x / s.nchw[i]));
  const flops = stepFlops(batch, 32);
  const fb = (k: string) => (median(phases[k].forward) + median(phases[k].backward)) / 1e3;
  const peak = machineLimits.convGflops ? Math.max(...Object.values(machineLimits.convGflops)) : NaN;
  const gf = (k: string) => flops / fb(k) / 1e9;
  for (const k of ['nhwc', 'nchw'] as const) {
    addRow({
      id: 'channelsLast', benchmark: `our SimCLR step, ${k === 'nhwc' ? 'channels-last (default)' : 'NCHW'}, B=${batch}: forward+backward`,
      ours: fmtMs(median(s[k])), python: '—', ratio: k === 'nhwc' ? `NHWC/NCHW ${fmtX(ratio)}` : '—', goal: k === 'nhwc' ? '< 1.0× (default on)' : 'reported',
      met: k === 'nhwc' ? (ratio < 1 ? 'yes' : 'NO') : '—',
      limit: `${gf(k).toFixed(1)} GFLOP/s conv+linear in forward+backward (${(flops / 1e9).toFixed(1)} GFLOP in ${fmtMs(fb(k))})` + (Number.isFinite(peak) ? `, ${((gf(k) / peak) * 100).toFixed(0)} % of the conv peak` : ''),
      why: k === 'nhwc' && ratio >= 1 ? `NHWC was not faster in this run (median paired ratio ${fmtX(ratio)}); phases: ${JSON.stringify(Object.fromEntries(Object.entries(phases.nhwc).map(([p, v]) => [p, +median(v).toFixed(0)])))}` : undefined,
      data: { samples: s, phases, flops },
    });
  }
  for (const m of Object.values(models)) m.dispose();
  ds.dispose();
}

// ------------------------------------------------------------------------------------------------
// OMP_WAIT_POLICY: our step (child process, package defaults) under libgomp's default policy and
// PASSIVE, on the machine as it is and beside one competing CPU-bound process.
async function benchOmpPolicy(): Promise<void> {
  const batch = 256;
  const reps = QUICK ? 2 : 3;
  const child = (policy: string) => {
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.OMP_WAIT_POLICY;
    if (policy === 'default') env.MOMENTUM_SSL_OMP_WAIT_POLICY = 'default';
    else env.OMP_WAIT_POLICY = policy;
    return new LineChild(process.execPath, [TS_NODE, '--transpile-only', path.join(HERE, 'stepChild.ts'), '--threads', String(THREADS), '--batch', String(batch)], env);
  };
  const kids = { default: child('default'), PASSIVE: child('PASSIVE') };
  const ready = await Promise.all(Object.values(kids).map((k) => k.ready));
  log(`omp policy children: ${JSON.stringify(ready)}`);
  for (const k of Object.values(kids)) await k.request({ cmd: 'run', steps: 1 });
  const run = (c: LineChild) => async () => (await c.request<{ seconds: number }>({ cmd: 'run', steps: 1 })).seconds;
  const quiet = await alternate(reps, { default: run(kids.default), PASSIVE: run(kids.PASSIVE) });
  // One competing single-threaded CPU-bound process (a busy loop), like a compile job beside training.
  const hog = spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' });
  let busy: Record<string, number[]>;
  try {
    busy = await alternate(reps, { default: run(kids.default), PASSIVE: run(kids.PASSIVE) });
  } finally {
    hog.kill('SIGKILL');
  }
  for (const k of Object.values(kids)) await k.quit();
  const load = os.loadavg()[0].toFixed(2);
  for (const [cond, smp] of [['machine as is (load ' + load + ')', quiet], ['beside 1 CPU-bound process', busy]] as const) {
    const d = median(smp.default), p = median(smp.PASSIVE);
    addRow({
      id: 'ompPolicy', benchmark: `our step, OMP_WAIT_POLICY default vs PASSIVE, ${cond}`, ours: `PASSIVE ${fmtMs(p)}`, python: `default ${fmtMs(d)}`,
      ratio: `PASSIVE/default ${fmtX(p / d)}`, goal: 'reported (picks the package default)', met: '—', data: { samples: smp },
    });
  }
}

// ------------------------------------------------------------------------------------------------
// Two runs side by side with one thread each against one run with every thread: the throughput
// behind the long reproduce mode's `--jobs 2` default (LONG_SIZING in scripts/reproduce/variants.ts).
async function benchParallelRuns(): Promise<void> {
  const batch = 128;
  const steps = QUICK ? 3 : 8;
  const reps = QUICK ? 2 : 3;
  const kid = (threads: number) => new LineChild(process.execPath, [TS_NODE, '--transpile-only', path.join(HERE, 'stepChild.ts'), '--threads', String(threads), '--batch', String(batch)]);
  const one = kid(THREADS);
  const pair = [kid(1), kid(1)];
  log(`parallel-runs children: ${JSON.stringify(await Promise.all([one, ...pair].map((k) => k.ready)))}`);
  for (const k of [one, ...pair]) await k.request({ cmd: 'run', steps: 1 });
  const run = (k: LineChild) => k.request<{ seconds: number }>({ cmd: 'run', steps });
  // Seconds per step of work done: the pair's wall time covers 2 × steps steps.
  const smp = await alternate(reps, {
    one: async () => (await run(one)).seconds / steps,
    pair: async () => {
      const t0 = now();
      await Promise.all(pair.map(run));
      return (now() - t0) / (2 * steps);
    },
  });
  for (const k of [one, ...pair]) await k.quit();
  const gain = median(smp.one) / median(smp.pair);
  addRow({
    id: 'parallelRuns', benchmark: `our SimCLR step B=${batch}: 2 runs × 1 thread side by side vs 1 run × ${THREADS} threads`,
    ours: `2×1 thread ${fmtMs(median(smp.pair))}/step of work`, python: `1×${THREADS} threads ${fmtMs(median(smp.one))}/step`,
    ratio: `throughput ${fmtX(gain)}`, goal: 'reported (sizes reproduce --long --jobs)', met: '—', data: { samples: smp, steps },
  });
}

// ------------------------------------------------------------------------------------------------
function table(): string {
  return renderTable(rows);
}

/**
 * libgomp's default wait policy spins at every barrier. On this shared, oversubscribed 2-core
 * machine that makes a 2-thread PyTorch loop of small ops up to ~25x slower (measured: a Python
 * per-parameter EMA over 6×2M floats, 2 threads: ~95-145 ms default vs 5.9 ms PASSIVE; ours
 * 5.8 ms either way), which would flatter us. So every process of the run (this one, both step
 * children, the Python peers) gets the same OMP_WAIT_POLICY, PASSIVE unless `--omp-wait-policy
 * default` (or an OMP_WAIT_POLICY already in the environment) says otherwise.
 */
function ensureWaitPolicy(): string {
  const i = args.indexOf('--omp-wait-policy');
  const wanted = i >= 0 ? args[i + 1] : 'PASSIVE';
  if (process.env.OMP_WAIT_POLICY !== undefined) return process.env.OMP_WAIT_POLICY;
  if (wanted === 'default') return '(libgomp default)';
  const r = spawnSync(process.execPath, [TS_NODE, '--transpile-only', __filename, ...args], {
    stdio: 'inherit',
    env: { ...process.env, OMP_WAIT_POLICY: wanted },
  });
  process.exit(r.status ?? 1);
}

async function main(): Promise<void> {
  const waitPolicy = ensureWaitPolicy();
  const t0 = now();
  setNumThreads(THREADS);
  // One synchronous job so the worker applies the thread count before info() reports it.
  await binding().benchNoopAsync();
  const py = new LineChild(PYTHON, [path.join(HERE, 'peers.py'), 'server', '--threads', String(THREADS)]);
  const pyInfo = await py.ready;
  const mach = machine(pyInfo);
  log(`machine: ${JSON.stringify(mach)}`);
  log(QUICK ? 'quick mode' : 'full mode');

  if (want('napi')) await benchNapi();
  if (want('roofline') || want('ntxent') || want('step') || want('channelsLast')) await benchRoofline();
  if (want('ema')) {
    await benchEma(py, 'resnet18');
    await benchEma(py, 'resnet18w025');
  }
  if (want('ntxent')) {
    await benchNtXent(py, 256);
    await benchNtXent(py, 1024);
  }
  if (want('augment')) {
    await benchAugment(py, 'fmnist');
    await benchAugment(py, 'rgb');
  }
  await py.quit();
  let rss: Record<string, unknown> = {};
  if (want('step')) rss = await benchTrainingStep();
  if (want('emaStep')) await benchEmaVariants();
  if (want('channelsLast')) await benchChannelsLast();
  if (want('ompPolicy')) await benchOmpPolicy();
  if (want('parallelRuns')) await benchParallelRuns();

  const elapsed = now() - t0;
  const out = [
    '',
    `Machine: ${mach.cpu}, ${mach.cores} cores, ${mach.memGiB} GiB; threads: ours ${mach.oursThreads} (LibTorch ${mach.oursTorch}, ${mach.oursParallel}), ` +
      `python ${mach.pythonThreads} (torch ${mach.pythonTorch}, torchvision ${mach.torchvision}, Python ${mach.python}); BLAS (libblas.so.3 alternative): ${mach.blas}; ` +
      `Node ${mach.node}; OMP_WAIT_POLICY ${waitPolicy} (both sides); load avg at start ${mach.load}`,
    `Mode: ${QUICK ? 'quick' : 'full'}; total ${elapsed.toFixed(0)} s. Ratios compare medians of alternated repetitions from this run.`,
    '',
    table(),
    '',
    ...notes.map((n) => `- ${n}`),
    '',
  ].join('\n');
  process.stdout.write(out);
  if (JSON_OUT) {
    const command = `npm run bench -- ${args.join(' ')}`.trim();
    const machineOut = { ...mach, ompWaitPolicy: waitPolicy, loadEnd: os.loadavg().map((x) => x.toFixed(2)).join(' ') };
    fs.writeFileSync(JSON_OUT, JSON.stringify({ machine: machineOut, mode: QUICK ? 'quick' : 'full', command, seconds: elapsed, rows, notes, rss }, null, 2) + '\n');
    log(`wrote ${JSON_OUT}`);
  }
}

main().catch((e) => {
  process.stderr.write(`bench failed: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
