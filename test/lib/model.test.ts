import { SslModel, Tensor, memory, disposeAll } from '../../lib';
import type { SslConfig, DeepPartial } from '../../lib';
import { thrown } from '../helpers/errors';
import { syntheticImages } from '../helpers/synthetic';

// A CPU-sized setup: width-0.25 ResNet-18, 16×16 images, batch 32.
const SIZE = 16;
const BATCH = 32;
const tiny = (over: DeepPartial<SslConfig> = {}): DeepPartial<SslConfig> => ({
  ...over,
  backbone: { width: 0.25, inChannels: 3, ...(over.backbone ?? {}) },
  projector: { hiddenDim: 64, outDim: 32, ...(over.projector ?? {}) },
  augment: { outSize: SIZE, scale: [0.3, 1], blurP: 0, ...(over.augment ?? {}) },
  optimizer: { lr: 0.1, weightDecay: 0, ...(over.optimizer ?? {}) },
  totalSteps: over.totalSteps ?? 30,
});

describe('SslModel training step', () => {
  let baseline: number;
  beforeAll(() => {
    baseline = memory().numTensors;
  });
  afterAll(() => {
    expect(memory().numTensors).toBe(baseline);
  });

  const methods: Array<[string, DeepPartial<SslConfig>]> = [
    ['SimCLR', {}],
    ['SimCLR + full EMA', { ema: { parts: 'full', base: 0.9, final: 0.9 } }],
    ['SimCLR + projector-only EMA', { ema: { parts: 'projector', base: 0.9, final: 0.9 } }],
    ['MoCo (queue)', { ema: { parts: 'full', base: 0.9, final: 0.9 }, objective: { name: 'infonce', queueSize: 128, temperature: 0.2 } }],
    ['BYOL', { ema: { parts: 'full', base: 0.9, final: 0.9 }, predictor: { hiddenDim: 64 }, objective: { name: 'byol' } }],
    ['SimSiam', { predictor: { hiddenDim: 16 }, projector: { lastBn: true }, objective: { name: 'simsiam' } }],
    ['SimSiam + projector-only EMA', { ema: { parts: 'projector', base: 0.9, final: 0.9 }, predictor: { hiddenDim: 16 }, projector: { lastBn: true }, objective: { name: 'simsiam' } }],
  ];

  test.each(methods)('%s: the loss falls over 30 steps', async (_name, over) => {
    const data = syntheticImages(BATCH * 4, 3, SIZE, 7);
    const model = SslModel.create(tiny(over));
    const losses: number[] = [];
    for (let s = 0; s < 30; s++) {
      const { images, index } = data.batch(s % 4, BATCH);
      const r = await model.step(images, index);
      disposeAll(images, index);
      expect(Number.isFinite(r.loss)).toBe(true);
      expect(r.step).toBe(s + 1);
      losses.push(r.loss);
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    // From step 2 on: MoCo's queue fills during the first two steps (an empty queue gives loss 0,
    // a half-full one a lower chance level log(K+1)).
    const first = mean(losses.slice(2, 7));
    const last = mean(losses.slice(-5));
    expect(last).toBeLessThan(first);
    model.dispose();
  });

  test('DINO (2 local crops, EMA teacher): the teacher does not collapse over 30 steps', async () => {
    // DINO's loss need not fall while the teacher sharpens (τ_t warms up) and the centre moves;
    // its failure mode is collapse: one prototype taking all the mass (teacher entropy → 0) or a
    // uniform teacher (entropy → log K). With K = 64 (log K = 4.16) the teacher must stay inside
    // [0.5, log K − 0.01] nats every step: 0.5 is 12 % of log K, far above a one-hot teacher.
    const data = syntheticImages(BATCH * 4, 3, SIZE, 7);
    const model = SslModel.create(tiny({ ema: { parts: 'full', base: 0.9, final: 0.9 }, projector: { prototypes: 64 }, augment: { localCrops: 2 }, objective: { name: 'dino' } }));
    for (let s = 0; s < 30; s++) {
      const { images, index } = data.batch(s % 4, BATCH);
      const r = await model.step(images, index);
      disposeAll(images, index);
      expect(Number.isFinite(r.loss)).toBe(true);
      expect(r.objective.teacherEntropy).toBeGreaterThan(0.5);
      expect(r.objective.teacherEntropy).toBeLessThan(Math.log(64) - 0.01);
      expect(r.objective.teacherTemperature).toBeGreaterThanOrEqual(0.04);
    }
    expect(model.forwardCounts().online).toEqual([120, 120, 120, 120, 120, 120]); // 4 views × 30 steps
    model.dispose();
  });

  test('phase timings, LR and momentum schedules over the whole run', async () => {
    const data = syntheticImages(BATCH, 3, SIZE, 1);
    const T = 6;
    const model = SslModel.create(tiny({ ema: { parts: 'projector', base: 0.9, final: 1.0 }, totalSteps: T, optimizer: { lr: 0.2, finalLr: 0, warmupSteps: 2 } }));
    const { images, index } = data.batch(0, BATCH);
    for (let t = 0; t < T; t++) {
      const r = await model.step(images, index);
      const m = 1.0 - (1.0 - 0.9) * (Math.cos((Math.PI * t) / T) + 1) / 2;
      expect(r.momentum).toBeCloseTo(m, 12);
      const lr = t < 2 ? (0.2 * (t + 1)) / 2 : 0.2 * 0.5 * (1 + Math.cos((Math.PI * (t - 2)) / (T - 2)));
      expect(r.lr).toBeCloseTo(lr, 6);
      for (const k of ['augment', 'forward', 'keyBranch', 'loss', 'backward', 'optimizer', 'ema', 'objectiveUpdate'] as const) {
        expect(r.ms[k]).toBeGreaterThanOrEqual(0);
      }
      expect(r.ms.forward).toBeGreaterThan(0);
    }
    expect(model.summary().step).toBe(T);
    disposeAll(images, index);
    model.dispose();

  });

  // Key-branch cost by counting forward calls per part (stem, layer1..4, projector), per step.
  const countCases: Array<[string, DeepPartial<SslConfig>['ema'], number[]]> = [
    ['no EMA (SimCLR): no key branch', { parts: 'none' }, [0, 0, 0, 0, 0, 0]],
    ['projector-only: backbone runs once per view', { parts: 'projector' }, [0, 0, 0, 0, 0, 2]],
    ['last-k layer3+: suffix only', { parts: ['layer3', 'layer4', 'projector'] }, [0, 0, 0, 2, 2, 2]],
    ['first-k stem+layer1: the whole network twice', { parts: ['stem', 'layer1'] }, [2, 2, 2, 2, 2, 2]],
    ['full', { parts: 'full' }, [2, 2, 2, 2, 2, 2]],
  ];
  test.each(countCases)('forward counts: %s', async (_name, ema, keyCounts) => {
    const data = syntheticImages(8, 3, SIZE, 2);
    const model = SslModel.create(tiny({ ema }));
    const { images, index } = data.batch(0, 8);
    await model.step(images, index);
    expect(model.forwardCounts()).toEqual({ online: [2, 2, 2, 2, 2, 2], key: keyCounts });
    await model.resetForwardCounts();
    expect(model.forwardCounts().online).toEqual([0, 0, 0, 0, 0, 0]);
    disposeAll(images, index);
    model.dispose();

  });

  test('embed returns pooled backbone features', async () => {
    const data = syntheticImages(4, 3, SIZE, 3);
    const model = SslModel.create(tiny());
    const { images, index } = data.batch(0, 4);
    const f = await model.embed(images);
    expect(f.shape).toEqual([4, model.summary().featureDim]);
    expect(f.dtype).toBe('float32');
    const arr = await model.embedArray(images);
    expect(arr.shape).toEqual(f.shape);
    expect(Array.from(arr.data)).toEqual(Array.from(f.toTypedArray() as Float32Array));
    disposeAll(images, index, f);
    model.dispose();

  });
});

describe('SslModel bad input', () => {
  test('bad configs name the field and allowed values', () => {
    expect(thrown(() => SslModel.create(tiny({ ema: { parts: ['layer9' as 'layer1'] } }))).message).toMatch(/unknown part 'layer9'; allowed: stem, layer1/);
    expect(thrown(() => SslModel.create(tiny({ objective: { temperature: 0 } }))).message).toMatch(/objective.temperature must be a number in \[0.01, 10\], got 0/);
    expect(thrown(() => SslModel.create(tiny({ objective: { temperature: -1 } }))).name).toBe('RangeError');
    expect(thrown(() => SslModel.create(tiny({ objective: { temperature: 1e-300 } }))).message).toMatch(/objective.temperature must be a number in \[0.01, 10\], got 1e-300/);
    expect(thrown(() => SslModel.create(tiny({ backbone: { width: 1e300 } }))).message).toMatch(/width must be a finite number in \(0, 8\]; got 1e\+300/);
    // Inherited objects and prototype keys never pass silently.
    expect(thrown(() => SslModel.create(Object.create(tiny()))).message).toMatch(/config must be a plain object .*inheriting/);
    for (const key of ['constructor', 'toString', 'hasOwnProperty', '__proto__']) {
      expect(thrown(() => SslModel.create(JSON.parse(`{"backbone": {"${key}": 1}}`))).message).toMatch(new RegExp(`config.backbone.${key} is not a known option`));
    }
    expect(thrown(() => SslModel.create(tiny({ ema: { base: 1.5 } }))).message).toMatch(/momentum .* must be in \[0, 1\]/);
    expect(thrown(() => SslModel.create(tiny({ objective: { name: 'infonce', queueSize: 0 } }))).message).toMatch(/queueSize >= 1 or objective.inBatchNegatives/);
    expect(thrown(() => SslModel.create(tiny({ objective: { name: 'infonce', queueSize: -4 } }))).message).toMatch(/objective.queueSize must be an integer in \[0, /);
    expect(thrown(() => SslModel.create(tiny({ backbone: { depth: 20 as 18 } }))).message).toMatch(/depth/);
    expect(thrown(() => SslModel.create(tiny({ objective: { name: 'byol' } }))).message).toMatch(/needs a predictor/);
    expect(thrown(() => SslModel.create(tiny({ objective: { name: 'dino' } }))).message).toMatch(/needs a prototype layer: set projector.prototypes >= 1/);
    expect(thrown(() => SslModel.create(tiny({ augment: { localCrops: 2 } }))).message).toMatch(/augment.localCrops applies to multi-crop objectives/);
    expect(thrown(() => SslModel.create({ typo: 1 } as unknown as DeepPartial<SslConfig>)).message).toMatch(/config.typo is not a known option/);
  });

  test('bad batches reject with a clear error and change no state', async () => {
    const model = SslModel.create(tiny({ ema: { parts: 'projector' } }));
    const wrongChannels = Tensor.from(new Uint8Array(4 * 1 * SIZE * SIZE), [4, 1, SIZE, SIZE]);
    const notUint8 = Tensor.from(new Float32Array(4 * 3 * SIZE * SIZE), [4, 3, SIZE, SIZE]);
    const single = Tensor.from(new Uint8Array(1 * 3 * SIZE * SIZE), [1, 3, SIZE, SIZE]);
    const flat = Tensor.from(new Uint8Array(3 * SIZE * SIZE), [3, SIZE, SIZE]);
    const good = Tensor.from(new Uint8Array(4 * 3 * SIZE * SIZE).fill(9), [4, 3, SIZE, SIZE]);
    const badIndex = Tensor.from(new Int32Array(4), [4]);
    await expect(model.step(wrongChannels)).rejects.toThrow(/expected 3 channel\(s\)/);
    await expect(model.step(notUint8)).rejects.toThrow(/dtype must be uint8/);
    await expect(model.step(single)).rejects.toThrow(/at least 2 images/);
    await expect(model.step(flat)).rejects.toThrow(/\[B,C,H,W\]/);
    await expect(model.step(good, badIndex)).rejects.toThrow(/sampleIndex: expected an int64 tensor/);
    await expect(model.step('x' as unknown as Tensor)).rejects.toThrow(/images must be a Tensor/);
    good.dispose();
    await expect(model.step(good)).rejects.toThrow(/batch: tensor has been disposed/);
    expect(model.summary().step).toBe(0);
    expect(model.forwardCounts().online).toEqual([0, 0, 0, 0, 0, 0]);
    model.dispose();
    expect(model.disposed).toBe(true);
    expect(() => model.summary()).toThrow(/model has been disposed/);
    disposeAll(wrongChannels, notUint8, single, flat, badIndex);
  });
});

describe('SslModel reliability (#13)', () => {
  test('a queue model rejects bad sample indices before any state change; without them keys are unknown samples', async () => {
    const model = SslModel.create(tiny({ objective: { name: 'infonce', queueSize: 64 }, ema: { parts: 'full' } }));
    const images = Tensor.from(new Uint8Array(4 * 3 * SIZE * SIZE).fill(7), [4, 3, SIZE, SIZE]);
    const negative = Tensor.from(BigInt64Array.from([0n, 1n, -2n, 3n]));
    const before = await model.embedArray(images);
    await expect(model.step(images, negative)).rejects.toThrow(/sampleIndex: values must be dataset indices >= 0/);
    expect(model.summary().step).toBe(0);
    const after = await model.embedArray(images);
    expect(Array.from(after.data)).toEqual(Array.from(before.data));
    // No indices: the step trains, its keys enqueued as unknown samples (never masking a query).
    expect((await model.step(images)).step).toBe(1);
    disposeAll(images, negative);
    model.dispose();
  });

  test('save/load: bad paths, full disks and corrupt files reject with codes, never abort', async () => {
    const fs = await import('fs');
    const os = await import('os');
    const path = await import('path');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mssl-model-io-'));
    const model = SslModel.create(tiny());
    const codeOf = async (p: Promise<unknown>) => p.then(() => 'resolved', (e: Error & { code?: string; errno?: string; path?: string }) => `${e.code} ${e.errno ?? ''} ${e.message}`);
    expect(await codeOf(model.save(path.join(dir, 'ck\0.pt')))).toMatch(/^ERR_INVALID_ARG .*NUL byte/);
    expect(fs.existsSync(path.join(dir, 'ck'))).toBe(false);
    expect(await codeOf(model.save('/dev/full'))).toMatch(/^ERR_INVALID_ARG .*'\/dev\/full' exists and is a device/);
    expect(await codeOf(model.exportStateDict(dir))).toMatch(/is a folder/);
    const ck = path.join(dir, 'ck.pt');
    fs.symlinkSync('/dev/full', `${ck}.tmp`);
    expect(await codeOf(model.save(ck))).toMatch(new RegExp(`^ERR_IO ENOSPC cannot write '${ck}.tmp'`));
    expect(fs.existsSync(`${ck}.tmp`)).toBe(false);
    await model.save(ck);
    const bytes = fs.readFileSync(ck);
    const bad = Buffer.from(bytes);
    bad.fill(0, Math.floor(bad.length / 3), Math.floor(bad.length / 3) + 4096);
    fs.writeFileSync(path.join(dir, 'bad.pt'), bad);
    expect(await codeOf(model.load(path.join(dir, 'bad.pt')))).toMatch(/^ERR_CHECKPOINT_CORRUPT .*checksum mismatch/);
    fs.writeFileSync(path.join(dir, 'cut.pt'), bytes.subarray(0, bytes.length - 100));
    expect(await codeOf(model.load(path.join(dir, 'cut.pt')))).toMatch(/^ERR_CHECKPOINT_CORRUPT .*no integrity trailer/);
    expect(await codeOf(model.load(path.join(dir, 'missing.pt')))).toMatch(/^ERR_IO ENOENT cannot open/);
    expect(await model.load(ck)).toBe('');
    model.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a diverging step stops before the optimizer step, naming step and lr', async () => {
    const model = SslModel.create(tiny({ optimizer: { lr: 1e30, weightDecay: 0 } }));
    const images = Tensor.from(new Uint8Array(syntheticImages(8, 3, SIZE, 5, 4).pixels), [8, 3, SIZE, SIZE]);
    let err: (Error & { code?: string; step?: number; lr?: number }) | undefined;
    let done = 0;
    for (let i = 0; i < 10 && !err; i++) {
      await model.step(images).then(() => done++, (e) => (err = e));
    }
    expect(err?.code).toBe('ERR_DIVERGED');
    expect(err?.step).toBe(done);
    expect(err?.message).toMatch(new RegExp(`training diverged at step ${done} \\(lr [0-9.e+]+\\): .*not finite`));
    expect(model.summary().step).toBe(done);
    images.dispose();
    model.dispose();
  });
});
