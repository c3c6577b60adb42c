// In-process fault phases, run in a child of the suite: the disk-full saves, the corrupted
// checkpoint sweep, the soak (RSS slope) and event-loop lag while loading data and training.
// Prints one JSON line of figures.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { monitorEventLoopDelay } from 'perf_hooks';

import * as m from '../../lib';
import { rng, TINY_CONFIG } from './common';

const phase = process.argv[2];
const quick = process.argv.includes('--quick');
const r = rng(13);
const out: Record<string, number | string> = {};

function batch(n = 8): m.Tensor {
  return m.Tensor.from(new Uint8Array(n * 28 * 28).map(() => Math.floor(r() * 256)), [n, 1, 28, 28]);
}

async function expectReject(p: Promise<unknown>, code: string): Promise<{ ok: boolean; message: string }> {
  try {
    await p;
    return { ok: false, message: 'accepted' };
  } catch (e) {
    const err = e as Error & { code?: string };
    return { ok: err.code === code, message: `${err.code}: ${err.message}` };
  }
}

/** Appends to `file` until the disk is full. */
function fillUp(file: string): void {
  const fd = fs.openSync(file, 'a');
  try {
    for (;;) fs.writeSync(fd, Buffer.alloc(512));
  } catch {
    // ENOSPC: full
  } finally {
    fs.closeSync(fd);
  }
}

async function diskFull(): Promise<void> {
  const model = m.SslModel.create(TINY_CONFIG as never);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mssl-full-'));
  let cases = 0, clean = 0;
  // 1. The .tmp is a link to /dev/full: every write fails with ENOSPC.
  const ck = path.join(dir, 'ck.pt');
  fs.symlinkSync('/dev/full', `${ck}.tmp`);
  cases++;
  const a = await expectReject(model.save(ck), 'ERR_IO');
  if (a.ok && a.message.includes('ENOSPC') && !fs.existsSync(`${ck}.tmp`)) clean++;
  else out.diskFullDetail = a.message;
  // 2. A 4 MiB tmpfs, filled: the checkpoint does not fit; nothing is left behind; after freeing
  //    space the same save works. Skipped with the reason when mounting is not permitted.
  const mnt = path.join(dir, 'mnt');
  fs.mkdirSync(mnt);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mnt], { stdio: 'pipe' });
  } catch (e) {
    out.tmpfs = `mount refused: ${String((e as Error).message).split('\n')[0]}`;
  }
  if (out.tmpfs === undefined) {
    try {
      fs.writeFileSync(path.join(mnt, 'filler'), Buffer.alloc(4 * 1024 * 1024 - 64 * 1024));
      const target = path.join(mnt, 'ck.pt');
      cases++;
      const b = await expectReject(model.save(target), 'ERR_IO');
      if (b.ok && b.message.includes('ENOSPC') && !fs.existsSync(`${target}.tmp`)) clean++;
      else out.diskFullDetail = b.message;
      // The metrics log on a full disk: an ERR_IO error from fit(), never an unhandled 'error' event.
      const data = m.fromArrays({ images: new Uint8Array(32 * 28 * 28), shape: [32, 1, 28, 28], labels: new Array(32).fill(0) });
      fillUp(path.join(mnt, 'filler2'));
      cases++;
      const t = new m.Trainer(model, data, { batchSize: 8, epochs: 1, metricsPath: path.join(mnt, 'metrics.jsonl'), progress: 'none' });
      const c = await expectReject(t.fit(), 'ERR_IO');
      if (c.ok && c.message.includes('ENOSPC')) clean++;
      else out.diskFullDetail = c.message;
      data.dispose();
      fs.rmSync(path.join(mnt, 'filler'));
      fs.rmSync(path.join(mnt, 'filler2'));
      cases++;
      await model.save(target);
      await model.load(target);
      clean++;
    } finally {
      execFileSync('umount', [mnt]);
    }
  }
  out.diskFullCases = cases;
  out.diskFullClean = clean;
  model.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
}

async function corrupt(): Promise<void> {
  const model = m.SslModel.create(TINY_CONFIG as never);
  const x = batch();
  await model.step(x);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mssl-corrupt-'));
  const good = path.join(dir, 'good.pt');
  await model.save(good);
  const bytes = fs.readFileSync(good);
  const ref = await model.embedArray(x);
  const n = quick ? 40 : 300;
  let refused = 0;
  const bad: string[] = [];
  for (let i = 0; i < n; i++) {
    const b = Buffer.from(bytes);
    const kind = i % 5;
    const at = Math.floor(r() * b.length);
    let f: Buffer = b;
    if (kind === 0) b[at] ^= 1 << Math.floor(r() * 8); // one flipped bit
    else if (kind === 1) b.fill(0, at, Math.min(b.length, at + 4096)); // a zeroed 4 KiB page
    else if (kind === 2) f = b.subarray(0, at); // cut off
    else if (kind === 3) f = Buffer.concat([b, Buffer.from('garbage')]); // appended bytes
    else b.fill(0xff, Math.floor(b.length / 3), Math.floor(b.length / 3) + 4096); // the probe's case
    if (kind !== 2 && kind !== 3 && b.equals(bytes)) continue;
    const file = path.join(dir, `c${i}.pt`);
    fs.writeFileSync(file, f);
    const res = await expectReject(model.load(file), 'ERR_CHECKPOINT_CORRUPT');
    if (res.ok) refused++;
    else if (bad.length < 5) bad.push(`${kind}@${at}: ${res.message}`);
    fs.rmSync(file);
  }
  const after = await model.embedArray(x);
  out.corruptFiles = n;
  out.corruptRefused = refused;
  out.modelUntouched = ref.data.every((v, i) => Object.is(v, after.data[i])) ? 1 : 0;
  if (bad.length) out.corruptDetail = bad.join(' | ');
  x.dispose();
  model.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
}

async function soakAndLag(): Promise<void> {
  // Event-loop lag while a whole dataset is read, decoded and copied (the addon already loaded).
  m.info();
  const h = monitorEventLoopDelay({ resolution: 5 });
  h.enable();
  const train = await m.loadFashionMnist('train');
  h.disable();
  out.lagLoadMaxMs = h.max / 1e6;
  out.lagLoadP99Ms = h.percentile(99) / 1e6;
  const model = m.SslModel.create(TINY_CONFIG as never);
  const steps = quick ? 1600 : 2500;
  const rss: number[] = [];
  const base = m.memory().numTensors;
  const h2 = monitorEventLoopDelay({ resolution: 5 });
  const warm = Math.floor(steps / 4); // allocator pools and caches fill first
  for (let s = 0; s < steps; s++) {
    if (s === warm) h2.enable();
    if (s === steps / 2) h2.disable(); // lag from the first half; the second half measures RSS
    const idx = Array.from({ length: 16 }, () => Math.floor(r() * train.length));
    const b = train.batch(idx);
    try {
      await model.step(b.images, b.index);
    } finally {
      m.disposeAll(b);
    }
    // RSS from half-way (the dataset load's transient memory is given back in the first part),
    // after a full GC so the JS heap's own growth between collections is not counted as a leak.
    if (s >= steps / 2 && s % 20 === 0) {
      (globalThis as { gc?: () => void }).gc?.();
      rss.push(process.memoryUsage().rss / 2 ** 20);
    }
  }
  out.lagTrainMaxMs = h2.max / 1e6;
  out.lagTrainP99Ms = h2.percentile(99) / 1e6;
  // Least-squares slope of RSS over the steps after warm-up, in MiB per 1000 steps.
  const xs = rss.map((_, i) => i * 20);
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length, my = rss.reduce((a, b) => a + b, 0) / rss.length;
  const slope = xs.reduce((a, x, i) => a + (x - mx) * (rss[i] - my), 0) / xs.reduce((a, x) => a + (x - mx) ** 2, 0);
  out.soakSteps = steps / 2;
  out.rssSlopeMiBPer1k = slope * 1000;
  out.leakedTensors = m.memory().numTensors - base;
  model.dispose();
  train.dispose();
}

async function main(): Promise<void> {
  if (phase === 'disk-full') await diskFull();
  else if (phase === 'corrupt') await corrupt();
  else if (phase === 'soak') await soakAndLag();
  else throw new Error(`unknown phase ${phase}`);
  process.stdout.write(JSON.stringify(out) + '\n');
}

void main();
