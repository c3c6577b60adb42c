import { Tensor, memory, disposeAll } from '../../lib';
import { thrown, typeTag } from '../helpers/errors';

describe('Tensor', () => {
  let baseline: number;
  beforeAll(() => {
    baseline = memory().numTensors;
  });
  afterAll(() => {
    expect(memory().numTensors).toBe(baseline);
  });

  const cases: Array<[string, () => Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array]> = [
    ['float32', () => new Float32Array([1.5, -2, 3.25, 0, 1e-8, 7])],
    ['float64', () => new Float64Array([Math.PI, -1e300, 0, 2, 3, 4])],
    ['int32', () => new Int32Array([1, -2, 3, 2147483647, -2147483648, 0])],
    ['int64', () => new BigInt64Array([1n, -2n, 9007199254740993n, 0n, 5n, 6n])],
    ['uint8', () => new Uint8Array([0, 1, 2, 127, 128, 255])],
  ];
  test.each(cases)('%s values round-trip with shape', (dtype, make) => {
    const data = make();
    const t = Tensor.from(data, [2, 3]);
    expect(t.dtype).toBe(dtype);
    expect(t.shape).toEqual([2, 3]);
    expect(t.device).toBe('cpu');
    expect(t.nbytes).toBe(data.byteLength);
    const back = t.toTypedArray();
    expect(typeTag(back)).toBe(typeTag(data));
    expect(Array.from(back as ArrayLike<number | bigint>)).toEqual(Array.from(data as ArrayLike<number | bigint>));
    t.dispose();
  });

  test('copies input: later writes to the JS array do not change the tensor', () => {
    const data = new Float32Array([1, 2, 3]);
    const t = Tensor.from(data);
    data[0] = 99;
    expect(Array.from(t.toTypedArray() as Float32Array)).toEqual([1, 2, 3]);
    t.dispose();
  });

  test('subarray views copy only their window', () => {
    const base = new Float32Array([0, 1, 2, 3, 4, 5]);
    const t = Tensor.from(base.subarray(2, 5), [3]);
    expect(Array.from(t.toTypedArray() as Float32Array)).toEqual([2, 3, 4]);
    t.dispose();
  });

  test('scalars and empty tensors', () => {
    const s = Tensor.from(new Float64Array([4]), []);
    expect(s.shape).toEqual([]);
    const e = Tensor.from(new Float32Array(0), [0, 3]);
    expect(e.shape).toEqual([0, 3]);
    expect(e.toTypedArray().length).toBe(0);
    disposeAll(s, e);
  });

  test('shape errors name the problem', () => {
    expect(() => Tensor.from(new Float32Array(3), [2, 2])).toThrow(/shape \[2, 2\] needs 4 elements but data has 3/);
    expect(thrown(() => Tensor.from(new Float32Array(3), [3.5])).name).toBe('TypeError');
    expect(thrown(() => Tensor.from(new Float32Array(3), [2, 2])).name).toBe('RangeError');
    expect(() => Tensor.from(new Float32Array(3), [-3])).toThrow(/non-negative integers/);
    expect(() => Tensor.from(new Float32Array(3), 'x' as unknown as number[])).toThrow(/shape must be an array/);
  });

  test('unsupported data types are rejected', () => {
    expect(() => Tensor.from(new Int16Array(3) as unknown as Float32Array)).toThrow(/Float32Array, Float64Array, Int32Array, BigInt64Array or Uint8Array/);
    expect(thrown(() => Tensor.from([1, 2, 3] as unknown as Float32Array)).name).toBe('TypeError');
  });

  test('memory() counts live tensors and bytes; dispose frees, is idempotent', () => {
    const before = memory();
    const a = Tensor.from(new Float32Array(1000), [10, 100]);
    const b = Tensor.from(new Uint8Array(10));
    expect(memory().numTensors).toBe(before.numTensors + 2);
    expect(memory().numBytes).toBe(before.numBytes + 4000 + 10);
    a.dispose();
    a.dispose();
    expect(memory().numTensors).toBe(before.numTensors + 1);
    expect(memory().numBytes).toBe(before.numBytes + 10);
    b.dispose();
    expect(memory()).toEqual(before);
  });

  test('a disposed tensor throws when used', async () => {
    const t = Tensor.from(new Float32Array(4), [2, 2]);
    t.dispose();
    expect(t.disposed).toBe(true);
    expect(() => t.shape).toThrow(/tensor has been disposed/);
    expect(() => t.toTypedArray()).toThrow(/disposed/);
    const other = Tensor.from(new Float32Array(4), [2, 2]);
    await expect(other.matmul(t)).rejects.toThrow(/other: tensor has been disposed/);
    other.dispose();
    expect(String(t)).toBe('Tensor(disposed)');
  });

  test('Symbol.dispose frees the tensor (using-declarations)', () => {
    const before = memory().numTensors;
    const t = Tensor.from(new Float32Array(4));
    const sym = (Symbol as unknown as { dispose?: symbol }).dispose ?? Symbol.for('nodejs.dispose');
    (t as unknown as Record<symbol, () => void>)[sym]();
    expect(t.disposed).toBe(true);
    expect(memory().numTensors).toBe(before);
  });

  test('LibTorch errors reach JS with LibTorch message and a code', async () => {
    const a = Tensor.from(new Float32Array(6), [2, 3]);
    const b = Tensor.from(new Float32Array(6), [2, 3]);
    await expect(a.matmul(b)).rejects.toMatchObject({ code: 'ERR_TORCH', message: expect.stringMatching(/^LibTorch: .*(shapes cannot be multiplied|size mismatch)/) });
    disposeAll(a, b);
  });

  test('matmul computes the product', async () => {
    const a = Tensor.from(new Float64Array([1, 2, 3, 4]), [2, 2]);
    const b = Tensor.from(new Float64Array([5, 6, 7, 8]), [2, 2]);
    const c = await a.matmul(b);
    expect(Array.from(c.toTypedArray() as Float64Array)).toEqual([19, 22, 43, 50]);
    disposeAll(a, b, c);
  });
});

describe('Tensor copies (reliability #13)', () => {
  test('fromAsync copies on the worker; SharedArrayBuffer-backed arrays are accepted', async () => {
    const shared = new Float32Array(new SharedArrayBuffer(16));
    shared.set([1, 2, 3, 4]);
    const a = Tensor.from(shared, [2, 2]);
    const b = await Tensor.fromAsync(shared, [2, 2]);
    expect(Array.from(a.toTypedArray() as Float32Array)).toEqual([1, 2, 3, 4]);
    expect(Array.from(b.toTypedArray() as Float32Array)).toEqual([1, 2, 3, 4]);
    await expect(Tensor.fromAsync(new Uint8Array(3), [2, 2])).rejects.toThrow(/shape \[2, 2\] needs 4 elements but data has 3/);
    expect(() => Tensor.from(null as unknown as Uint8Array)).toThrow(/data must be a Float32Array.*got null/);
    disposeAll(a, b);
  });
});
