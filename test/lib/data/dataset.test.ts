import { Tensor, memory, disposeAll } from '../../../lib';
import { ImageDataset, fromArrays, EpochSampler } from '../../../lib/data';
import { thrown } from '../../helpers/errors';
import { num } from '../../helpers/files';

// 6 samples of [2, 2, 3]; pixel k of sample i = 20*i + k.
const N = 6, C = 2, H = 2, W = 3, P = C * H * W;
const pixels = Uint8Array.from({ length: N * P }, (_, j) => 20 * Math.floor(j / P) + (j % P));
const sample = (i: number): number[] => num(pixels.subarray(i * P, (i + 1) * P));

describe('ImageDataset', () => {
  let baseline: number;
  beforeAll(() => {
    baseline = memory().numTensors;
  });
  afterAll(() => {
    expect(memory().numTensors).toBe(baseline);
  });

  const make = (): ImageDataset => fromArrays({ images: pixels, shape: [N, C, H, W], labels: [0, 1, 2, 0, 1, 2], classNames: ['a', 'b', 'c'], name: 'toy' });

  test('fromArrays holds one native uint8 tensor and int64 labels', () => {
    const before = memory().numTensors;
    const ds = make();
    expect(memory().numTensors).toBe(before + 2);
    expect(ds.images.shape).toEqual([N, C, H, W]);
    expect(ds.images.dtype).toBe('uint8');
    expect(ds.labels.dtype).toBe('int64');
    expect(ds.length).toBe(N);
    expect(ds.sampleShape).toEqual([C, H, W]);
    expect(ds.numClasses).toBe(3);
    expect(ds.classNames).toEqual(['a', 'b', 'c']);
    expect(String(ds)).toBe('ImageDataset(toy, n=6, sample=[2, 2, 3], classes=3)');
    ds.dispose();
    ds.dispose();
    expect(ds.disposed).toBe(true);
    expect(memory().numTensors).toBe(before);
  });

  test('batch gathers natively from every index form', () => {
    const ds = make();
    const forms: Array<[string, () => unknown]> = [
      ['number[]', () => [5, 0, 5]],
      ['Int32Array', () => Int32Array.from([5, 0, 5])],
      ['BigInt64Array', () => BigInt64Array.from([5n, 0n, 5n])],
      ['int64 Tensor', () => Tensor.from(BigInt64Array.from([5n, 0n, 5n]))],
      ['int32 Tensor', () => Tensor.from(Int32Array.from([5, 0, 5]))],
    ];
    for (const [, mk] of forms) {
      const idx = mk();
      const b = ds.batch(idx as never);
      expect(b.images.shape).toEqual([3, C, H, W]);
      expect(b.images.dtype).toBe('uint8');
      expect(num(b.images.toTypedArray())).toEqual([...sample(5), ...sample(0), ...sample(5)]);
      expect(num(b.labels.toTypedArray())).toEqual([2, 0, 2]);
      expect(b.index.dtype).toBe('int64');
      expect(num(b.index.toTypedArray())).toEqual([5, 0, 5]);
      disposeAll(b, idx);
    }
    const empty = ds.batch([]);
    expect(empty.images.shape).toEqual([0, C, H, W]);
    disposeAll(empty);
    ds.dispose();
  });

  test('sampler batches feed batch()', () => {
    const ds = make();
    const s: EpochSampler = ds.sampler({ batchSize: 4, seed: 3 });
    const seen: number[] = [];
    for (const idx of s) {
      const b = ds.batch(idx);
      const got = num(b.images.toTypedArray());
      num(idx).forEach((i, r) => expect(got.slice(r * P, (r + 1) * P)).toEqual(sample(i)));
      seen.push(...num(b.index.toTypedArray()));
      disposeAll(b);
    }
    expect(seen.sort()).toEqual([0, 1, 2, 3, 4, 5]);
    ds.dispose();
  });

  test('bad indices are clear errors, never crashes', () => {
    const ds = make();
    expect(() => ds.batch([0, 6])).toThrow('indices[1] = 6 is out of range for a dataset of 6 samples');
    expect(thrown(() => ds.batch([0, 6])).name).toBe('RangeError');
    expect(() => ds.batch(Int32Array.from([-1]))).toThrow('indices[0] = -1 is out of range');
    expect(() => ds.batch([1.5])).toThrow('indices[0] must be an integer, got 1.5');
    const f = Tensor.from(new Float32Array([1]));
    expect(() => ds.batch(f)).toThrow('indices must be int32 or int64, got Float');
    expect(thrown(() => ds.batch(f)).name).toBe('TypeError');
    const m = Tensor.from(BigInt64Array.from([0n, 1n]), [1, 2]);
    expect(() => ds.batch(m)).toThrow('indices must be 1-D, got shape [1, 2]');
    expect(() => ds.batch(new Float64Array([1]) as never)).toThrow(/indices must be a Tensor \(int32\/int64\), an Int32Array/);
    expect(() => ds.batch('0' as never)).toThrow(/indices must be a Tensor/);
    disposeAll(f, m);
    expect(memory().numTensors).toBeGreaterThan(0);
    ds.dispose();
    expect(() => ds.batch([0])).toThrow('toy.batch: the dataset has been disposed');
  });

  test('subset copies natively and keeps the classes', () => {
    const ds = make();
    const sub = ds.subset([4, 1]);
    ds.dispose();
    expect(sub.length).toBe(2);
    expect(num(sub.images.toTypedArray())).toEqual([...sample(4), ...sample(1)]);
    expect(num(sub.labels.toTypedArray())).toEqual([1, 1]);
    expect(sub.numClasses).toBe(3);
    expect(sub.name).toBe('toy[subset]');
    sub.dispose();
  });

  test('fromArrays: NHWC layout, 3-D shape and inferred classes', () => {
    // 1 sample, 2x2 pixels, 3 channels interleaved: (h, w, c) = 100*c + 10*h + w.
    const hwc = Uint8Array.from([0, 100, 200, 1, 101, 201, 10, 110, 210, 11, 111, 211]);
    const ds = fromArrays({ images: hwc, shape: [1, 2, 2, 3], labels: [4], layout: 'nhwc' });
    expect(ds.images.shape).toEqual([1, 3, 2, 2]);
    expect(num(ds.images.toTypedArray())).toEqual([0, 1, 10, 11, 100, 101, 110, 111, 200, 201, 210, 211]);
    expect(ds.numClasses).toBe(5);
    ds.dispose();
    const gray = fromArrays({ images: new Uint8Array(8), shape: [2, 2, 2], labels: Uint8Array.from([0, 1]) });
    expect(gray.images.shape).toEqual([2, 1, 2, 2]);
    gray.dispose();
  });

  test('fromArrays and fromTensors reject bad input', () => {
    expect(() => fromArrays({ images: new Float32Array(4) as never, shape: [1, 1, 2, 2], labels: [0] })).toThrow(/images must be a Uint8Array of pixel bytes, got \[object Float32Array\]/);
    expect(() => fromArrays({ images: new Uint8Array(4), shape: [1, 1, 2, 2], labels: [0, 1] })).toThrow('fromArrays: 2 labels for 1 images');
    expect(() => fromArrays({ images: new Uint8Array(4), shape: [1, 1, 2, 2], labels: [-1] })).toThrow(/labels\[0\] = -1 is not a non-negative integer/);
    expect(() => fromArrays({ images: new Uint8Array(4), shape: [1, 1, 2, 2], labels: [3], numClasses: 2 })).toThrow('labels[0] = 3 is outside [0, 2)');
    expect(() => fromArrays({ images: new Uint8Array(3), shape: [1, 1, 2, 2], labels: [0] })).toThrow(/needs 4 elements but data has 3/);
    expect(() => fromArrays({ images: new Uint8Array(4), shape: [2, 2], labels: [0, 0] })).toThrow(/shape must be \[N, C, H, W\]/);
    const f = Tensor.from(new Float32Array(4), [1, 1, 2, 2]);
    const l = Tensor.from(BigInt64Array.from([0n]));
    expect(() => ImageDataset.fromTensors(f, l, { numClasses: 1 })).toThrow('images must be a uint8 tensor, got Float');
    const u = Tensor.from(new Uint8Array(4), [1, 1, 2, 2]);
    expect(() => ImageDataset.fromTensors(u, l, { numClasses: 0 })).toThrow(/numClasses must be an integer >= 1/);
    expect(() => ImageDataset.fromTensors(u, l, { numClasses: 2, classNames: ['x'] })).toThrow(/classNames must list 2 names, got 1/);
    const ok = ImageDataset.fromTensors(u, l, { numClasses: 2 });
    expect(ok.length).toBe(1);
    // disposeAll() walks tensors, arrays and plain objects only: a dataset disposes itself.
    ok.dispose();
    disposeAll(f, l, u);
  });
});
