import { AugmentConfig, augmentDefaults, BatchAugmenter } from '../../lib/augment';
import { disposeAll, memory, Tensor } from '../../lib/tensor';

// Everything random off, no normalisation: output = the image in [0,1].
const PLAIN: Partial<AugmentConfig> = {
  scale: [1, 1],
  ratio: [1, 1],
  flipP: 0,
  jitterP: 0,
  grayscaleP: 0,
  mean: [0, 0, 0],
  std: [1, 1, 1],
};

function images(b: number, c: number, h: number, w: number, seed = 1): Tensor {
  const data = new Uint8Array(b * c * h * w);
  let s = seed;
  for (let i = 0; i < data.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    data[i] = s >>> 24;
  }
  return Tensor.from(data, [b, c, h, w]);
}

function floats(t: Tensor): Float32Array {
  return t.toTypedArray() as Float32Array;
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('BatchAugmenter', () => {
  let baseline: number;
  beforeAll(() => {
    baseline = memory().numTensors;
  });
  afterAll(() => {
    expect(memory().numTensors).toBe(baseline);
  });

  test('defaults come from the core; an augmenter reports its resolved config', () => {
    const d = augmentDefaults();
    // torchvision's SimCLR recipe (RandomResizedCrop scale (0.08, 1), ColorJitter 0.4/0.4/0.4/0.1 p 0.8, grayscale 0.2).
    expect(d).toMatchObject({ outSize: 32, scale: [0.08, 1], ratio: [0.75, 4 / 3], flipP: 0.5, jitterP: 0.8, brightness: 0.4, hue: 0.1, grayscaleP: 0.2, mean: null, localCrops: 0 });
    expect(Object.isFrozen(d)).toBe(true);
    const a = new BatchAugmenter({ scale: [0.2, 1], localCrops: 2 }, 0);
    expect(a.config).toEqual({ ...d, scale: [0.2, 1], localCrops: 2 });
    a.dispose();
  });

  test('shapes, dtype, range and determinism per seed', async () => {
    const x = images(8, 3, 32, 32);
    const cfg = { mean: [0, 0, 0], std: [1, 1, 1], blurP: 0.5, solarizeP: 0.3 };
    const a = new BatchAugmenter(cfg, 7);
    const b = new BatchAugmenter(cfg, 7);
    const c = new BatchAugmenter(cfg, 8);
    const [a1, a2, b1, c1] = [await a.apply(x), await a.apply(x), await b.apply(x), await c.apply(x)];
    expect(a1.shape).toEqual([8, 3, 32, 32]);
    expect(a1.dtype).toBe('float32');
    const v = floats(a1);
    expect(Math.min(...v)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...v)).toBeLessThanOrEqual(1);
    expect(maxDiff(v, floats(b1))).toBe(0);
    expect(maxDiff(v, floats(a2))).toBeGreaterThan(0.01);
    expect(maxDiff(v, floats(c1))).toBeGreaterThan(0.01);
    disposeAll(x, a1, a2, b1, c1);
    [a, b, c].forEach((g) => g.dispose());
  });

  test('flip with a full crop mirrors the image; 1-channel 28x28', async () => {
    const x = images(2, 1, 28, 28, 3);
    const aug = new BatchAugmenter({ ...PLAIN, outSize: 28, flipP: 1, mean: [0], std: [1] }, 0);
    const y = await aug.apply(x);
    expect(y.shape).toEqual([2, 1, 28, 28]);
    const src = x.toTypedArray() as Uint8Array;
    const out = floats(y);
    const mirrored = new Float32Array(out.length);
    for (let i = 0; i < out.length; i++) {
      const col = i % 28;
      mirrored[i] = src[i - col + (27 - col)] / 255;
    }
    expect(maxDiff(out, mirrored)).toBeLessThan(1e-5);
    const defaults1ch = new BatchAugmenter({ outSize: 28, scale: [0.2, 1] }, 1);
    const z = await defaults1ch.apply(x);
    expect(z.shape).toEqual([2, 1, 28, 28]);
    disposeAll(x, y, z);
    aug.dispose();
    defaults1ch.dispose();
  });

  test('generator state round trip', async () => {
    const x = images(4, 3, 16, 16);
    const aug = new BatchAugmenter({ outSize: 16 }, 5);
    const state = await aug.getState();
    expect(state.dtype).toBe('uint8');
    const first = await aug.apply(x);
    await aug.setState(state);
    const again = await aug.apply(x);
    expect(maxDiff(floats(first), floats(again))).toBe(0);
    const other = new BatchAugmenter({ outSize: 16 }, 99);
    await other.setState(state);
    const resumed = await other.apply(x);
    expect(maxDiff(floats(first), floats(resumed))).toBe(0);
    disposeAll(x, state, first, again, resumed);
    aug.dispose();
    other.dispose();
  });

  test('errors name the argument', async () => {
    expect(() => new BatchAugmenter({ flipP: 2 })).toThrow(expect.objectContaining({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE', message: expect.stringContaining('flipP') }));
    expect(() => new BatchAugmenter({ scale: [0.9, 0.1] })).toThrow(/scale/);
    expect(() => new BatchAugmenter({ outSize: 0 })).toThrow(/outSize/);
    expect(() => new BatchAugmenter({ hue: 0.7 })).toThrow(/hue must be in \[0, 0.5\]/);
    expect(() => new BatchAugmenter({ std: [1, 0, 1] })).toThrow(/std/);
    expect(() => new BatchAugmenter({ scale: [0.5] as unknown as [number, number] })).toThrow(expect.objectContaining({ name: 'TypeError' }));
    expect(() => new BatchAugmenter({ flip: 0.5 } as unknown as Partial<AugmentConfig>)).toThrow(/augment.flip is not a known option \(known: outSize, scale, ratio, flipP/);
    expect(() => new BatchAugmenter({}, -1)).toThrow(/seed/);

    const aug = new BatchAugmenter({}, 0);
    const f = Tensor.from(new Float32Array(2 * 3 * 4 * 4), [2, 3, 4, 4]);
    await expect(aug.apply(f)).rejects.toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG', message: expect.stringContaining('uint8') });
    const rank3 = Tensor.from(new Uint8Array(3 * 4 * 4), [3, 4, 4]);
    await expect(aug.apply(rank3)).rejects.toThrow(/rank 4/);
    const twoCh = Tensor.from(new Uint8Array(2 * 4 * 4), [1, 2, 4, 4]);
    await expect(aug.apply(twoCh)).rejects.toThrow(/C = 1 or 3/);
    const rgbMean = new BatchAugmenter({ mean: [0.5, 0.5, 0.5] }, 0);
    const gray = images(1, 1, 8, 8);
    await expect(rgbMean.apply(gray)).rejects.toThrow(/mean must have one value per channel/);
    await expect(aug.setState(f)).rejects.toThrow(/uint8/);
    await expect(aug.apply({} as Tensor)).rejects.toThrow(TypeError);
    aug.dispose();
    expect(aug.disposed).toBe(true);
    await expect(aug.apply(gray)).rejects.toMatchObject({ code: 'ERR_DISPOSED' });
    disposeAll(f, rank3, twoCh, gray);
    rgbMean.dispose();
  });
});
