import { knnClassify, Tensor, memory, disposeAll } from '../../../lib';

const f32 = (rows: number[][]) => Tensor.from(Float32Array.from(rows.flat()), [rows.length, rows[0].length]);
const i64 = (xs: number[]) => Tensor.from(BigInt64Array.from(xs.map(BigInt)), [xs.length]);

describe('knnClassify', () => {
  let baseline: number;
  beforeAll(() => (baseline = memory().numTensors));
  afterAll(() => expect(memory().numTensors).toBe(baseline));

  test('weighted vote by hand: exp(sim/T) of the k nearest decides', async () => {
    // Test point at angle 0. Train: class 0 at cos = 0.8 (one point), class 1 at cos = 0.6 (two points).
    // k = 3, T = 0.1: votes class0 = e^8 = 2981, class1 = 2·e^6 = 807 → class 0.
    // T = 1: class0 = e^0.8 = 2.23, class1 = 2·e^0.6 = 3.64 → class 1.
    const train = f32([[0.8, 0.6], [0.6, 0.8], [0.6, -0.8], [-1, 0]]);
    const labels = i64([0, 1, 1, 0]);
    const test = f32([[2, 0]]); // not unit length: normalised inside
    const testLabels = i64([0]);
    const a = await knnClassify(train, labels, test, testLabels, { k: 3, temperature: 0.1 });
    expect(Array.from(a.predictions.toTypedArray() as BigInt64Array)).toEqual([0n]);
    expect(a.top1).toBe(1);
    const b = await knnClassify(train, labels, test, testLabels, { k: 3, temperature: 1 });
    expect(Array.from(b.predictions.toTypedArray() as BigInt64Array)).toEqual([1n]);
    expect(b.top1).toBe(0);
    expect(b.top5).toBe(1);
    disposeAll(train, labels, test, testLabels, a.predictions, b.predictions);
  });

  test('separated clusters are classified perfectly; k larger than N is clamped', async () => {
    const train = f32([[1, 0, 0], [0.9, 0.1, 0], [0, 1, 0], [0.1, 0.9, 0], [0, 0, 1]]);
    const labels = i64([0, 0, 1, 1, 2]);
    const test = f32([[1, 0.05, 0], [0, 1, 0.05], [0.05, 0, 1]]);
    const testLabels = i64([0, 1, 2]);
    const r = await knnClassify(train, labels, test, testLabels, { k: 2 });
    expect(r.top1).toBe(1);
    const all = await knnClassify(train, labels, test, testLabels, { k: 200 });
    expect(all.top1).toBe(1);
    disposeAll(train, labels, test, testLabels, r.predictions, all.predictions);
  });

  test('bad input is rejected with a clear message', async () => {
    const train = f32([[1, 0], [0, 1]]);
    const labels = i64([0, 1]);
    const wide = f32([[1, 0, 0]]);
    const nan = f32([[NaN, 0]]);
    const l1 = i64([0]);
    const i32 = Tensor.from(new Int32Array([0, 1]));
    await expect(knnClassify(train, labels, wide, l1)).rejects.toThrow(/differ in width/);
    await expect(knnClassify(train, labels, nan, l1)).rejects.toThrow(/testFeatures contain NaN/);
    await expect(knnClassify(train, i32, train, labels)).rejects.toThrow(/trainLabels must be an int64 tensor/);
    await expect(knnClassify(train, labels, train, labels, { k: 0 })).rejects.toThrow(/knn.k must be in \[1/);
    await expect(knnClassify(train, labels, train, labels, { temperature: 0 })).rejects.toThrow(/temperature must be a finite number > 0/);
    disposeAll(train, labels, wide, nan, l1, i32);
  });
});
