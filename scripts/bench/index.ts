// `npm run bench [-- --quick] [-- --json out.json] [-- --only name,name]`
// Runs each benchmark on our code and on its Python/PyTorch peer (scripts/bench/peers.py, Debian's
// /usr/bin/python3 with python3-torch 1.13: the same LibTorch), alternating the two sides rep by
// rep in this one run, and prints medians and ratios with the machine they ran on.
import { execFileSync, spawnSync } from 'child_process';
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
import { LineChild, median, now, PYTHON } from './common';

const THREADS = 2;
const args = process.argv.slice(2);
const QUICK = args.includes('--quick');
const jsonIdx = args.indexOf('--json');
const JSON_OUT = jsonIdx >= 0 ? args[jsonIdx + 1] : undefined;
const onlyIdx = args.indexOf('--only');
const ONLY = onlyIdx >= 0 ? new Set(args[onlyIdx + 1].split(',')) : null;
const HERE = __dirname;
const ROOT = path.resolve(HERE, '..', '..');

interface Row {
  id: string;
  benchmark: string;
  ours: string;
  python: string;
  ratio: string;
  goal: string;
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
  rows.push(r);
  log(`${r.benchmark}: ours ${r.ours} | python ${r.python} | ${r.ratio} | goal ${r.goal} | ${r.met}`);
}

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
  return {
    cpu,
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
    const bw = gbs(med[bestKey]);
    const frac = gbs(med.oursNative) / bw;
    notes.push(
      `Bandwidth reference: best median of a += b over two fp32 buffers of ${numel} elements (${((numel * 4) / 2 ** 20).toFixed(0)} MiB each), ` +
        `12 bytes/element: native parallel_for loop ${gbs(med.bwNativeLoop).toFixed(1)} GB/s, ATen add_ (ours) ${gbs(med.bwNativeAten).toFixed(1)} GB/s, ` +
        `torch add_ (Python) ${gbs(med.bwPyTorch).toFixed(1)} GB/s, numpy np.add(a, b, out=a) (1 thread) ${gbs(med.bwNumpy).toFixed(1)} GB/s → ${bw.toFixed(1)} GB/s (${bestKey}).`,
    );
    addRow({
      id: 'ema', benchmark: `fused EMA bandwidth, ${label} (${pm})`, ours: `${gbs(med.oursNative).toFixed(1)} GB/s`, python: `${bw.toFixed(1)} GB/s (a+=b)`,
      ratio: `${(frac * 100).toFixed(0)} %`, goal: '≥ 85 % of a+=b', met: frac >= 0.85 ? 'yes' : 'NO', data: { samples: s, bestKey },
    });
  }
  const speedLoop = med.pyLoop / med.oursJs;
  const speedForeach = med.pyForeach / med.oursJs;
  const goalLoop = big ? 1.5 : 3;
  addRow({
    id: 'ema', benchmark: `fused EMA update vs per-param loop, ${label} (${pm})`, ours: fmtMs(med.oursJs), python: fmtMs(med.pyLoop),
    ratio: `py/ours ${fmtX(speedLoop)}`, goal: `≥ ${goalLoop}× faster`, met: speedLoop >= goalLoop ? 'yes' : 'NO', data: big ? {} : { samples: s },
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
  addRow({
    id: 'ntxent', benchmark: `NT-Xent fwd+bwd, N=${n}, D=${d}`, ours: fmtMs(o), python: fmtMs(p), ratio: `ours/py ${fmtX(o / p)}`,
    goal: '≤ 1.0× time', met: o / p <= 1.0 ? 'yes' : 'NO', data: { samples: s },
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
    ratio: `ours/py ${fmtX(o / p)}`, goal: '≤ 0.90× time', met: o / p <= 0.9 ? 'yes' : 'NO', data: { samples: s, stepsPerBlock: steps },
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
    goal: 'reported', met: '—', data: rss,
  });
  return rss;
}

async function benchEmaVariants(): Promise<void> {
  const batch = 256;
  const ds = await loadFashionMnist('train');
  const sampler = ds.sampler({ batchSize: batch, dropLast: true, shuffle: true, seed: 2 });
  const mk = (parts: 'none' | 'projector' | 'full') => SslModel.create({ backbone: { inChannels: 1 }, ema: { parts } });
  const models = { plain: mk('none'), projector: mk('projector'), full: mk('full') };
  const phases: Record<string, Record<string, number[]>> = { plain: {}, projector: {}, full: {} };
  const stepOf = (name: keyof typeof models) => async () => {
    const b = ds.batch(sampler.next());
    const t = now();
    const r = await models[name].step(b.images);
    const dt = now() - t;
    for (const [k, v] of Object.entries(r.ms)) (phases[name][k] ??= []).push(v);
    disposeAll([b.images, b.labels, b.index]);
    return dt;
  };
  for (const k of Object.keys(models) as (keyof typeof models)[]) await stepOf(k)();
  for (const k of Object.keys(phases)) phases[k] = {};
  const reps = QUICK ? 2 : 7;
  const s = await alternate(reps, { plain: stepOf('plain'), projector: stepOf('projector'), full: stepOf('full') });
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
    goal: '≤ 1.03×', met: prRatio <= 1.03 ? 'yes' : 'NO', data: { samples: s, phases },
  });
  addRow({
    id: 'emaStep', benchmark: 'full-encoder EMA step vs plain SimCLR step (ours)', ours: fmtMs(fu), python: `plain ${fmtMs(pl)}`, ratio: fmtX(fuRatio),
    goal: 'reported', met: '—', data: {},
  });
  for (const m of Object.values(models)) m.dispose();
  ds.dispose();
}

// ------------------------------------------------------------------------------------------------
function table(): string {
  const head = ['benchmark', 'ours', 'python', 'ratio', 'goal', 'met?'];
  const body = rows.map((r) => [r.benchmark, r.ours, r.python, r.ratio, r.goal, r.met]);
  const esc = (c: string) => c.replace(/\|/g, '\\|');
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...body.map((r) => `| ${r.map(esc).join(' | ')} |`)].join('\n');
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
    fs.writeFileSync(JSON_OUT, JSON.stringify({ machine: { ...mach, ompWaitPolicy: waitPolicy }, mode: QUICK ? 'quick' : 'full', seconds: elapsed, rows, notes, rss }, null, 2) + '\n');
    log(`wrote ${JSON_OUT}`);
  }
}

main().catch((e) => {
  process.stderr.write(`bench failed: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
