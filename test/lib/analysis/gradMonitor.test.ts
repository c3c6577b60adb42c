import { GradMonitor, SslModel, disposeAll, memory } from '../../../lib';
import { blockPart, windowStats } from '../../../lib/analysis/gradMonitor';
import type { DeepPartial, SslConfig } from '../../../lib';
import { thrown } from '../../helpers/errors';
import { syntheticImages } from '../../helpers/synthetic';

const SIZE = 16;
// Identity augmentation: both views equal the input, so a training step and a probe see the same
// tensors and their two independent gradient paths (hooks vs autograd.grad) must agree.
const identity = { outSize: SIZE, scale: [1, 1] as [number, number], ratio: [1, 1] as [number, number], flipP: 0, jitterP: 0, grayscaleP: 0, blurP: 0, solarizeP: 0 };
const cfg = (over: DeepPartial<SslConfig> = {}): DeepPartial<SslConfig> => ({
  backbone: { width: 0.25 },
  projector: { hiddenDim: 32, outDim: 16 },
  augment: identity,
  optimizer: { lr: 0, weightDecay: 0 },
  gradMonitor: { enabled: true },
  totalSteps: 10,
  ...over,
});

describe('GradMonitor statistics', () => {
  test('cv and mean relative change by hand', () => {
    const m = new GradMonitor(3);
    const seq = [1, 2, 4, 2];
    for (const v of seq) m.push({ gradRms: [v, v, v, v, v, v] });
    const s = m.summary()[0];
    // Window = last 3 values [2, 4, 2]: mean 8/3, population std sqrt(8/9).
    expect(s.n).toBe(3);
    expect(s.meanRms).toBeCloseTo(8 / 3, 12);
    expect(s.cv).toBeCloseTo(Math.sqrt(8 / 9) / (8 / 3), 12);
    // Pairs ending in the window: 1→2, 2→4, 4→2: (1 + 1 + 0.5) / 3.
    expect(s.meanRelChange).toBeCloseTo(2.5 / 3, 12);
    expect(s.probeCosine).toBeNull();
  });

  test('a constant gradient has cv 0 and no relative change', () => {
    const m = new GradMonitor(5);
    for (let i = 0; i < 7; i++) m.push({ gradRms: [3, 3, 3, 3, 3, 3] });
    expect(m.summary().map((s) => [s.cv, s.meanRelChange])).toEqual(Array(6).fill([0, 0]));
  });

  test('per-block norm, std, cv and relative change by hand', () => {
    const m = new GradMonitor(3);
    const names = ['stem', 'layer1.0', 'projector.1'];
    // Block 0: norms 1, 2, 4, 2 (sumsq 1, 4, 16, 4) over numel 4, so rms = norm / 2.
    // Block 1: a constant norm 3. Block 2: never measured (null).
    for (const n of [1, 2, 4, 2]) {
      m.push({ gradRms: [1, 1, 1, 1, 1, 1], gradBlocks: { names, sumsq: [n * n, 9, null], numel: [4, 9, null] } });
    }
    m.pushProbe({ cosine: [0.5, null, null, null, null, null], blocks: { names, rms: [], cosine: [0.2, 0.6, null] } });
    m.pushProbe({ cosine: [0.7, null, null, null, null, null], blocks: { names, rms: [], cosine: [0.4, null, null] } });
    const [b0, b1, b2] = m.blockSummary();
    expect([b0.block, b0.part, b1.part, b2.part]).toEqual(['stem', 'stem', 'layer1', 'projector']);
    expect(b0.n).toBe(3);
    expect(b0.meanNorm).toBeCloseTo(8 / 3, 12);
    expect(b0.meanRms).toBeCloseTo(4 / 3, 12);
    expect(b0.stdNorm).toBeCloseTo(Math.sqrt(8 / 9), 12);
    expect(b0.cvNorm).toBeCloseTo(Math.sqrt(8 / 9) / (8 / 3), 12);
    expect(b0.cvRms).toBeCloseTo(b0.cvNorm, 12);
    expect(b0.meanRelChange).toBeCloseTo(2.5 / 3, 12);
    expect(b0.probeCosine).toBeCloseTo(0.3, 12);
    expect([b1.meanNorm, b1.meanRms, b1.stdNorm, b1.cvNorm, b1.meanRelChange, b1.probeCosine]).toEqual([3, 1, 0, 0, 0, 0.6]);
    expect([b2.n, b2.meanNorm, b2.probeCosine]).toEqual([0, NaN, null]);
    expect(m.summary()[0].probeCosine).toBeCloseTo(0.6, 12);
    expect(m.blockNames).toEqual(names);
  });

  test('windowStats and blockPart', () => {
    // One value before the window: only the predecessor of the first relative change.
    const w = windowStats([10, 1, 3], 2);
    expect([w.n, w.mean, w.std, w.cv]).toEqual([2, 2, 1, 0.5]);
    expect(w.meanRelChange).toBeCloseTo((0.9 + 2) / 2, 12);
    expect(windowStats([], 5).n).toBe(0);
    expect(blockPart('layer3.1')).toBe('layer3');
    expect(() => blockPart('head.0')).toThrow(/names no part/);
    const m = new GradMonitor(2);
    m.push({ gradRms: [1, 1, 1, 1, 1, 1], gradBlocks: { names: ['stem'], sumsq: [1], numel: [1] } });
    expect(() => m.push({ gradRms: [1, 1, 1, 1, 1, 1], gradBlocks: { names: ['layer1.0'], sumsq: [1], numel: [1] } })).toThrow(/gradient blocks changed/);
  });

  test('rejects steps without statistics and bad windows', () => {
    expect(thrown(() => new GradMonitor().push({ gradRms: [null, null, null, null, null, null] })).message).toMatch(/gradMonitor: \{ enabled: true \}/);
    expect(() => new GradMonitor(1)).toThrow(/window must be an integer >= 2/);
  });
});

describe('native gradient monitor', () => {
  let baseline: number;
  beforeAll(() => (baseline = memory().numTensors));
  afterAll(() => expect(memory().numTensors).toBe(baseline));

  test('hook rms during a step equals autograd rms of a probe on the same views', async () => {
    const data = syntheticImages(16, 3, SIZE, 5);
    const model = SslModel.create(cfg());
    const { images, index } = data.batch(0, 16);
    const probe = await model.probe(images);
    const step = await model.step(images, index);
    expect(step.gradRms.every((v) => v !== null && v > 0)).toBe(true);
    step.gradRms.forEach((v, b) => expect(v!).toBeCloseTo(probe.rms[b]!, 5));
    expect(probe.cosine).toEqual([null, null, null, null, null, null]);
    // Blocks: stem, 2 per layer of ResNet-18, 2 projector stages; a part's rms is its last block's.
    const names = model.summary().gradBlocks;
    expect(names).toEqual(['stem', 'layer1.0', 'layer1.1', 'layer2.0', 'layer2.1', 'layer3.0', 'layer3.1', 'layer4.0', 'layer4.1', 'projector.0', 'projector.1']);
    const g = step.gradBlocks!;
    expect(g.names).toEqual(names);
    const last = [0, 2, 4, 6, 8, 10];
    last.forEach((k, b) => expect(Math.sqrt(g.sumsq[k]! / g.numel[k]!)).toBeCloseTo(step.gradRms[b]!, 12));
    g.sumsq.forEach((s, k) => expect(Math.sqrt(s! / g.numel[k]!)).toBeCloseTo(probe.blocks.rms[k]!, 5));
    expect(probe.blocks.cosine.every((c) => c === null)).toBe(true);
    // lr 0: the model does not change, so the next probe's gradients point the same way.
    const again = await model.probe(images);
    again.cosine.forEach((c) => expect(c!).toBeCloseTo(1, 6));
    again.blocks.cosine.forEach((c) => expect(c!).toBeCloseTo(1, 6));
    disposeAll(images, index);
    model.dispose();
  });

  test('probes change no training state', async () => {
    const data = syntheticImages(32, 3, SIZE, 6);
    const over = { augment: { outSize: SIZE }, optimizer: { lr: 0.1 } } as DeepPartial<SslConfig>;
    const a = SslModel.create(cfg(over));
    const b = SslModel.create(cfg(over));
    const probeBatch = data.batch(1, 16);
    for (let s = 0; s < 3; s++) {
      const { images, index } = data.batch(0, 16);
      await b.probe(probeBatch.images);
      const ra = await a.step(images, index);
      const rb = await b.step(images, index);
      expect(rb.loss).toBe(ra.loss);
      disposeAll(images, index);
    }
    expect(b.summary().step).toBe(3);
    disposeAll(probeBatch);
    a.dispose();
    b.dispose();
  });

  test('off by default: steps report nulls', async () => {
    const data = syntheticImages(8, 3, SIZE, 7);
    const model = SslModel.create(cfg({ gradMonitor: { enabled: false } }));
    const { images, index } = data.batch(0, 8);
    const r = await model.step(images, index);
    expect(r.gradRms).toEqual([null, null, null, null, null, null]);
    expect(r.gradBlocks).toBeNull();
    disposeAll(images, index);
    model.dispose();
  });
});
