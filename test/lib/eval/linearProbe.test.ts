import { linearProbe, pixelFeatures, Tensor, memory, disposeAll } from '../../../lib';

function gaussianBlobs(n: number, dims: number, classes: number, seed: number, spread: number) {
  let s = seed;
  const rand = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296);
  const normal = () => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
  const centres = Array.from({ length: classes }, () => Array.from({ length: dims }, () => normal() * 3));
  const x = new Float32Array(n * dims);
  const y = new BigInt64Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % classes;
    y[i] = BigInt(c);
    for (let d = 0; d < dims; d++) x[i * dims + d] = centres[c][d] + normal() * spread;
  }
  return { x: Tensor.from(x, [n, dims]), y: Tensor.from(y, [n]) };
}

describe('linearProbe', () => {
  let baseline: number;
  beforeAll(() => (baseline = memory().numTensors));
  afterAll(() => expect(memory().numTensors).toBe(baseline));

  test('separable blobs are learned; noise-dominated ones are not', async () => {
    const train = gaussianBlobs(300, 8, 3, 1, 0.5);
    const test = gaussianBlobs(150, 8, 3, 1, 0.5); // same centres (same seed), fresh noise order
    const r = await linearProbe(train.x, train.y, test.x, test.y);
    expect(r.trainAccuracy).toBeGreaterThan(0.98);
    expect(r.testAccuracy).toBeGreaterThan(0.95);
    expect(r.evaluations).toBeGreaterThan(1);
    const noisyTrain = gaussianBlobs(300, 8, 3, 1, 50);
    const noisyTest = gaussianBlobs(150, 8, 3, 2, 50);
    const n = await linearProbe(noisyTrain.x, noisyTrain.y, noisyTest.x, noisyTest.y);
    expect(n.testAccuracy).toBeLessThan(0.6);
    disposeAll(train, test, noisyTrain, noisyTest);
  });

  test('pixelFeatures flattens uint8 images into [0, 1]', async () => {
    const imgs = Tensor.from(Uint8Array.from([0, 255, 51, 102, 0, 0, 0, 0]), [2, 1, 2, 2]);
    const f = await pixelFeatures(imgs);
    expect(f.shape).toEqual([2, 4]);
    expect(Array.from(f.toTypedArray() as Float32Array).map((v) => Math.round(v * 255))).toEqual([0, 255, 51, 102, 0, 0, 0, 0]);
    disposeAll(imgs, f);
  });

  test('bad options are rejected', async () => {
    const t = gaussianBlobs(10, 2, 2, 3, 1);
    await expect(linearProbe(t.x, t.y, t.x, t.y, { maxIterations: 0 })).rejects.toThrow(/maxIterations must be in \[1/);
    await expect(linearProbe(t.x, t.y, t.x, t.y, { numClasses: 1 })).rejects.toThrow(/numClasses is 1 but a label is 1/);
    disposeAll(t);
  });
});
