import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { fromArrays, info, ImageDataset, memory, setNumThreads, SslModel, Trainer } from '../../../lib';
import type { DeepPartial, SslConfig, StepEvent } from '../../../lib';
import { syntheticImages } from '../../helpers/synthetic';

// Tiny setup: width-0.25 ResNet-18, 16×16 synthetic RGB images, 64 images, batch 16 → 4 steps/epoch.
const SIZE = 16;
const N = 64;
const BATCH = 16;
const STEPS = 8;

function tinyConfig(): DeepPartial<SslConfig> {
  return {
    backbone: { width: 0.25, inChannels: 3 },
    projector: { hiddenDim: 64, outDim: 32 },
    ema: { parts: 'projector', base: 0.9, final: 1.0 },
    augment: { outSize: SIZE, scale: [0.3, 1], blurP: 0 },
    optimizer: { lr: 0.1, weightDecay: 1e-4, warmupSteps: 2 },
    totalSteps: STEPS,
    seed: 3,
  };
}

describe('Trainer', () => {
  let dir: string;
  let data: ImageDataset;
  let threads: number;
  let baseline: number;

  beforeAll(() => {
    baseline = memory().numTensors;
    // One intra-op thread: bitwise-reproducible reductions for the resume-equality check.
    threads = info().numThreads;
    setNumThreads(1);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mssl-trainer-'));
    const s = syntheticImages(N, 3, SIZE, 11, 8);
    data = fromArrays({ images: s.pixels, shape: [N, 3, SIZE, SIZE], labels: Array.from({ length: N }, (_, i) => i % 4), name: 'synthetic' });
  });
  afterAll(() => {
    data.dispose();
    setNumThreads(threads);
    fs.rmSync(dir, { recursive: true, force: true });
    expect(memory().numTensors).toBe(baseline);
  });

  test('gradient probe every N steps: events and metrics lines, no change to training', async () => {
    const metrics = path.join(dir, 'probe', 'metrics.jsonl');
    const withProbe = SslModel.create({ ...tinyConfig(), gradMonitor: { enabled: true } });
    const plain = SslModel.create({ ...tinyConfig(), gradMonitor: { enabled: true } });
    const probeBatch = data.batch([0, 1, 2, 3, 4, 5, 6, 7]);
    const probes: number[] = [];
    const trainer = new Trainer(withProbe, data, { epochs: 1, batchSize: BATCH, progress: 'none', metricsPath: metrics, probe: { images: probeBatch.images, every: 2 } });
    trainer.on('probe', (e: { step: number; blocks: { cosine: (number | null)[] } }) => probes.push(e.step));
    const a = await trainer.fit();
    const b = await new Trainer(plain, data, { epochs: 1, batchSize: BATCH, progress: 'none' }).fit();
    expect(probes).toEqual([2, 4]);
    // Probes change no state: the same losses as the run without them.
    expect(a.losses).toEqual(b.losses);
    const lines = fs.readFileSync(metrics, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const probeLines = lines.filter((l) => l.type === 'probe');
    expect(probeLines.map((l) => l.step)).toEqual([2, 4]);
    expect(probeLines[0].cosine.every((c: number | null) => c === null)).toBe(true);
    expect(probeLines[1].blocks.cosine.every((c: number | null) => c !== null && c > -1 && c < 1)).toBe(true);
    expect(lines.filter((l) => l.type === 'step')[0].gradBlocks.names).toHaveLength(11);
    probeBatch.images.dispose();
    probeBatch.labels.dispose();
    probeBatch.index.dispose();
    withProbe.dispose();
    plain.dispose();
  });

  test('events, one JSONL line per step, atomic checkpoint files', async () => {
    const model = SslModel.create(tinyConfig());
    const ckpt = path.join(dir, 'a', 'ckpt.pt');
    const metrics = path.join(dir, 'a', 'metrics.jsonl');
    const evalCalls: number[] = [];
    const trainer = new Trainer(model, data, {
      epochs: 2,
      batchSize: BATCH,
      progress: 'none',
      checkpointEvery: 3,
      checkpointPath: ckpt,
      metricsPath: metrics,
      evalEvery: 1,
      evaluate: async (_m, epoch) => {
        evalCalls.push(epoch);
        return { score: epoch / 10 };
      },
    });
    expect(trainer.plannedSteps).toBe(STEPS);
    const steps: StepEvent[] = [];
    const epochs: number[] = [];
    const checkpoints: number[] = [];
    trainer.on('step', (e: StepEvent) => steps.push(e));
    trainer.on('epoch', (e: { epoch: number }) => epochs.push(e.epoch));
    trainer.on('checkpoint', (e: { path: string; step: number }) => {
      checkpoints.push(e.step);
      // The file is in place and complete when the event fires; no temp file is left behind.
      expect(fs.existsSync(e.path)).toBe(true);
      expect(fs.readdirSync(path.dirname(e.path)).filter((f) => f.includes('.tmp'))).toEqual([]);
    });
    const r = await trainer.fit();
    expect(r.steps).toBe(STEPS);
    expect(r.epochs).toBe(2);
    expect(r.aborted).toBe(false);
    expect(r.losses).toHaveLength(STEPS);
    expect(steps.map((s) => s.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(steps.map((s) => s.epoch)).toEqual([0, 0, 0, 0, 1, 1, 1, 1]);
    expect(steps.map((s) => s.batch)).toEqual([0, 1, 2, 3, 0, 1, 2, 3]);
    expect(epochs).toEqual([0, 1]);
    expect(evalCalls).toEqual([0, 1]);
    // Every 3 steps, plus the final one.
    expect(checkpoints).toEqual([3, 6, 8]);

    const lines = fs.readFileSync(metrics, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const stepLines = lines.filter((l) => l.type === 'step');
    expect(stepLines).toHaveLength(STEPS);
    for (const [i, l] of stepLines.entries()) {
      expect(l.step).toBe(i + 1);
      expect(l.loss).toBeCloseTo(r.losses[i], 12);
      expect(typeof l.lr).toBe('number');
      expect(typeof l.momentum).toBe('number');
      expect(typeof l.time).toBe('number');
      expect(typeof l.ms.forward).toBe('number');
    }
    const evalLines = lines.filter((l) => l.type === 'eval');
    expect(evalLines.map((l) => [l.epoch, l.step, l.score])).toEqual([
      [0, 4, 0],
      [1, 8, 0.1],
    ]);

    // The checkpoint loads into a fresh model of the same config, at the last step.
    const again = SslModel.create(tinyConfig());
    const extra = JSON.parse(await again.load(ckpt));
    expect(extra.sampler).toEqual({ epoch: 2, position: 0 });
    expect(again.summary().step).toBe(STEPS);
    again.dispose();
    model.dispose();
  });

  test('AbortSignal stops after the current step and writes a checkpoint of it', async () => {
    const model = SslModel.create(tinyConfig());
    const ckpt = path.join(dir, 'b', 'ckpt.pt');
    const controller = new AbortController();
    const trainer = new Trainer(model, data, { epochs: 2, batchSize: BATCH, progress: 'none', checkpointEvery: 2, checkpointPath: ckpt, signal: controller.signal });
    trainer.on('step', (e: StepEvent) => {
      if (e.step === 3) controller.abort();
    });
    const r = await trainer.fit();
    expect(r.aborted).toBe(true);
    expect(r.steps).toBe(3);
    expect(r.losses).toHaveLength(3);
    const check = SslModel.create(tinyConfig());
    const extra = JSON.parse(await check.load(ckpt));
    expect(check.summary().step).toBe(3);
    expect(extra.sampler).toEqual({ epoch: 0, position: 3 });
    check.dispose();
    model.dispose();
  });

  test('resume: interrupted (maxSteps) + resumed losses equal an uninterrupted run', async () => {
    const full = SslModel.create(tinyConfig());
    const ref = await new Trainer(full, data, { epochs: 2, batchSize: BATCH, progress: 'none', seed: 5 }).fit();
    full.dispose();
    expect(ref.losses).toHaveLength(STEPS);

    const ckpt = path.join(dir, 'c', 'ckpt.pt');
    const metrics = path.join(dir, 'c', 'metrics.jsonl');
    const common = { epochs: 2, batchSize: BATCH, progress: 'none' as const, seed: 5, checkpointEvery: 2, checkpointPath: ckpt, metricsPath: metrics };
    const first = SslModel.create(tinyConfig());
    // Stops at step 5 (mid-epoch 1); the final checkpoint is written at step 5.
    const a = await new Trainer(first, data, { ...common, maxSteps: 5 }).fit();
    first.dispose();
    expect(a.steps).toBe(5);

    const second = SslModel.create(tinyConfig());
    const resumed = new Trainer(second, data, { ...common, resume: true });
    const resumeEvents: number[] = [];
    resumed.on('resume', (e: { step: number }) => resumeEvents.push(e.step));
    const saved: number[] = [];
    resumed.on('checkpoint', (e: { step: number }) => saved.push(e.step));
    const b = await resumed.fit();
    second.dispose();
    expect(resumeEvents).toEqual([5]);
    // Periodic checkpoints; the final step's is not written twice.
    expect(saved).toEqual([6, 8]);
    expect(b.resumedFrom).toBe(5);
    expect(b.steps).toBe(STEPS);
    const joined = [...a.losses, ...b.losses];
    expect(joined).toHaveLength(STEPS);
    for (let i = 0; i < STEPS; i++) expect(Math.abs(joined[i] - ref.losses[i])).toBeLessThan(1e-6);
    // The metrics log holds every step once.
    const steps = fs.readFileSync(metrics, 'utf8').trim().split('\n').map((l) => JSON.parse(l).step);
    expect(steps).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  test('resume after an abort: the redone steps are not logged twice', async () => {
    const ckpt = path.join(dir, 'd', 'ckpt.pt');
    const metrics = path.join(dir, 'd', 'metrics.jsonl');
    const controller = new AbortController();
    const common = { epochs: 2, batchSize: BATCH, progress: 'none' as const, checkpointEvery: 2, checkpointPath: ckpt, metricsPath: metrics };
    const first = SslModel.create(tinyConfig());
    const t1 = new Trainer(first, data, { ...common, signal: controller.signal });
    t1.on('step', (e: StepEvent) => {
      if (e.step === 3) controller.abort();
    });
    expect((await t1.fit()).steps).toBe(3);
    first.dispose();
    // The abort wrote a checkpoint of step 3. Simulate a later crash: step 4 logged but not
    // checkpointed, then a line cut short.
    fs.appendFileSync(metrics, '{"type":"step","step":4,"loss":1}\n{"type":"step","st');
    const second = SslModel.create(tinyConfig());
    const r = await new Trainer(second, data, { ...common, resume: true }).fit();
    second.dispose();
    expect(r.resumedFrom).toBe(3);
    const steps = fs.readFileSync(metrics, 'utf8').trim().split('\n').map((l) => JSON.parse(l).step);
    expect(steps).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  test('bad trainer options throw naming the option', () => {
    const model = SslModel.create(tinyConfig());
    expect(() => new Trainer(model, data, { batchSize: 1000 })).toThrow(/larger than the dataset/);
    expect(() => new Trainer(model, data, { batchSize: BATCH, epochs: 0 })).toThrow(/epochs/);
    expect(() => new Trainer(model, data, { batchSize: BATCH, checkpointEvery: 2 })).toThrow(/checkpointPath/);
    expect(() => new Trainer(model, data, { batchSize: BATCH, resume: true })).toThrow(/checkpointPath/);
    expect(() => new Trainer(model, data, { batchSize: BATCH, keepCheckpoints: 0 })).toThrow(/keepCheckpoints must be an integer >= 1, got 0/);
    model.dispose();
  });

  test('a run at chance-level loss (lr 30) emits one warning; warnChanceSteps 0 silences it', async () => {
    const warnings = async (lr: number, warnChanceSteps: number) => {
      const model = SslModel.create({ ...tinyConfig(), optimizer: { lr, warmupSteps: 0 }, totalSteps: 16 });
      const t = new Trainer(model, data, { epochs: 4, batchSize: BATCH, progress: 'none', warnChanceSteps });
      const seen: { kind: string; message: string }[] = [];
      t.on('warning', (w) => seen.push(w));
      await t.fit();
      model.dispose();
      return seen;
    };
    const wild = await warnings(30, 8);
    expect(wild).toHaveLength(1);
    expect(wild[0].kind).toBe('chance-loss');
    expect(wild[0].message).toMatch(new RegExp(`mean loss of the last 8 steps, [0-9.]+, is at chance level \\(${Math.log(2 * BATCH - 1).toFixed(4)}\\) at lr`));
    expect(await warnings(30, 0)).toEqual([]);
  });

  test('keeps the last N checkpoints; a divergence puts the last good one back and names it', async () => {
    const sub = path.join(dir, 'ring');
    const ckpt = path.join(sub, 'ckpt.pt');
    fs.mkdirSync(sub, { recursive: true });
    fs.writeFileSync(`${ckpt}.tmp`, 'left by a killed writer');
    const model = SslModel.create(tinyConfig());
    const t = new Trainer(model, data, { epochs: 2, batchSize: BATCH, progress: 'none', checkpointEvery: 1, checkpointPath: ckpt, keepCheckpoints: 3 });
    await t.fit();
    model.dispose();
    expect(fs.existsSync(`${ckpt}.tmp`)).toBe(false);
    expect(fs.readdirSync(sub).sort()).toEqual(['ckpt.pt', 'ckpt.step-6.pt', 'ckpt.step-7.pt']);

    // lr 1e30 from the start: the first update overflows, and the next step finds it. The
    // checkpoint of that poisoned state is never left as the one to resume from.
    const wildConfig = () => ({ ...tinyConfig(), optimizer: { lr: 1e30, warmupSteps: 0 } });
    const wild = SslModel.create(wildConfig());
    const ck2 = path.join(dir, 'ring2', 'ckpt.pt');
    const t2 = new Trainer(wild, data, { epochs: 2, batchSize: BATCH, progress: 'none', checkpointEvery: 1, checkpointPath: ck2 });
    const err = (await t2.fit().then(() => undefined, (e) => e)) as Error & { code?: string; step?: number; checkpoint?: string };
    wild.dispose();
    expect(err?.code).toBe('ERR_DIVERGED');
    expect(err.message).toMatch(/training diverged at step 1 \(lr [0-9.e+]+\): .*not finite.*; no good checkpoint was written before it/);
    expect(fs.existsSync(ck2)).toBe(false);
    expect(fs.existsSync(`${ck2}.diverged`)).toBe(true);

    // A good run to step 6 (keep 2), resumed with lr 1e30: step 7's update overflows, the
    // checkpoint of step 7 is poisoned, so step 6's is put back and named.
    const wild2 = SslModel.create(wildConfig());
    const t3 = new Trainer(wild2, data, { epochs: 2, batchSize: BATCH, progress: 'none', checkpointEvery: 1, checkpointPath: ckpt, resume: true, keepCheckpoints: 2 });
    fs.rmSync(ckpt);
    fs.renameSync(path.join(sub, 'ckpt.step-6.pt'), ckpt);
    const err3 = (await t3.fit().then(() => undefined, (e) => e)) as Error & { code?: string; step?: number; checkpoint?: string };
    wild2.dispose();
    expect(err3?.code).toBe('ERR_DIVERGED');
    expect(err3.step).toBe(7);
    expect(err3.message).toMatch(/training diverged at step 7 .*; last good checkpoint: .*ckpt.pt \(step 6\)/);
    const check = SslModel.create(tinyConfig());
    await check.load(ckpt);
    expect(check.summary().step).toBe(6);
    check.dispose();
  });
});
