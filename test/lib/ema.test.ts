// JS surface of the standalone FlatEma (design §2).
import { FlatEma } from '../../lib/ema';
import { Tensor, memory } from '../../lib/tensor';

function filled(n: number, f: (i: number) => number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = f(i);
  return a;
}

const f32 = (t: Tensor): number[] => Array.from(t.toTypedArray() as Float32Array);

// Native errors come from Node's realm, not Jest's sandbox: compare names, not constructors.

describe('FlatEma', () => {
  const shapes = [[3, 4], [5], [2, 2, 2], [1]];
  const make = (seed: number) =>
    shapes.map((s, k) => {
      const n = s.reduce((a, b) => a * b, 1);
      return Tensor.from(filled(n, (i) => Math.sin(seed * 13.7 + k * 3.1 + i * 0.77)), s);
    });

  test('fused update equals the per-tensor reference and the closed form', async () => {
    const base = memory().numTensors;
    const onlineA = make(1);
    const onlineB = make(1);
    const initA = make(2);
    const initB = make(2);
    const a = await FlatEma.create(onlineA, initA);
    const b = await FlatEma.create(onlineB, initB);
    expect(a.numel).toBe(12 + 5 + 8 + 1);
    expect(await a.info()).toEqual({ numel: 26, numGroups: 1, isFlat: true });
    // Online handles still read their values after being re-pointed into the flat buffer.
    const ref = make(1);
    expect(f32(onlineA[1])).toEqual(f32(ref[1]));
    let prod = 1;
    for (let k = 0; k < 20; k++) {
      const m = 0.5 + 0.45 * Math.sin(k);
      prod *= m;
      await Promise.all([a.update(m), b.updateReference(m)]);
    }
    const ea = a.ema();
    const eb = b.ema();
    for (let t = 0; t < shapes.length; t++) {
      expect(ea[t].shape).toEqual(shapes[t]);
      expect(ea[t].dtype).toBe('float32');
      const x = ea[t].toTypedArray() as Float32Array;
      const y = eb[t].toTypedArray() as Float32Array;
      const o = onlineA[t].toTypedArray() as Float32Array;
      const e0 = initA[t].toTypedArray() as Float32Array;
      for (let i = 0; i < x.length; i++) {
        expect(Math.abs(x[i] - y[i])).toBeLessThanOrEqual(1e-6);
        // Constant online: e_k = o + (e0 − o)·∏m.
        expect(Math.abs(x[i] - (o[i] + (e0[i] - o[i]) * prod))).toBeLessThanOrEqual(1e-5);
      }
    }
    await a.copyOnlineToEma();
    const afterCopy = a.ema();
    expect(f32(afterCopy[0])).toEqual(f32(onlineA[0]));
    await a.rebind();
    a.dispose();
    b.dispose();
    expect(a.disposed).toBe(true);
    await expect(a.update(0.5)).rejects.toMatchObject({ code: 'ERR_DISPOSED' });
    for (const t of [...onlineA, ...onlineB, ...initA, ...initB, ...ea, ...eb, ...ref, ...afterCopy]) t.dispose();
    expect(memory().numTensors).toBe(base);
  });

  test('groups by dtype and rejects bad input', async () => {
    const single = Tensor.from(filled(4, (i) => i), [2, 2]);
    const f64 = Tensor.from(new Float64Array([1, 2, 3]), [3]);
    const e = await FlatEma.create([single, f64]);
    expect(await e.info()).toMatchObject({ numGroups: 2, isFlat: true });
    expect(e.ema().map((t) => t.dtype)).toEqual(['float32', 'float64']);
    await expect(e.update(1.5)).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    await expect(e.update(1.5)).rejects.toMatchObject({ name: 'RangeError' });
    const wrong = Tensor.from(filled(3, () => 0), [3]);
    await expect(FlatEma.create([single], [wrong])).rejects.toMatchObject({ code: 'ERR_INVALID_ARG' });
    await expect(FlatEma.create([single], [wrong])).rejects.toThrow(/shape/);
    const ints = Tensor.from(new Int32Array([1, 2]), [2]);
    await expect(FlatEma.create([ints])).rejects.toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG' });
    await expect(FlatEma.create([1 as unknown as Tensor])).rejects.toThrow(/online\[0\] must be a Tensor/);
    e.dispose();
    for (const t of [single, f64, wrong, ints]) t.dispose();
  });
});
