// Losses through JS: value and gradient against PyTorch autograd fixtures
// (scripts/make-loss-fixtures.py), closed forms, argument errors, and no leaked tensors.
import * as fs from 'fs';
import * as path from 'path';

import { byolLoss, dinoLoss, infoNce, LossResult, momentumNtXent, negativeCosine, ntXent, ntXentPair } from '../../lib/losses';
import { disposeAll, memory, Tensor } from '../../lib/tensor';
import { expectThrows } from '../helpers/errors';

interface Encoded {
  dtype: 'float64' | 'int64' | 'bool';
  shape: number[];
  data: number[];
}
interface FixtureCase {
  name: string;
  loss: string;
  options: { temperature?: number; inBatchNegatives?: boolean; studentTemperature?: number; teacherTemperature?: number };
  inputNames: string[];
  inputs: (Encoded | null)[];
  value: number;
  grads: (Encoded | null)[];
}

const fixtureDir = path.join(__dirname, '..', 'fixtures', 'losses');
const fixtureFiles = ['ntxent_pair', 'momentum_ntxent', 'ntxent', 'infonce', 'byol', 'negative_cosine', 'dino'];
const cases: FixtureCase[] = fixtureFiles.flatMap(
  (f) => JSON.parse(fs.readFileSync(path.join(fixtureDir, `${f}.json`), 'utf8')).cases as FixtureCase[],
);

function decode(e: Encoded): Tensor {
  if (e.dtype === 'float64') return Tensor.from(Float64Array.from(e.data), e.shape);
  if (e.dtype === 'int64') return Tensor.from(BigInt64Array.from(e.data.map((x) => BigInt(x))), e.shape);
  return Tensor.from(Uint8Array.from(e.data), e.shape);
}

function f64(data: number[], shape: number[]): Tensor {
  return Tensor.from(Float64Array.from(data), shape);
}
function i64(data: number[]): Tensor {
  return Tensor.from(BigInt64Array.from(data.map((x) => BigInt(x))), [data.length]);
}
function filled(rows: number, dim: number, v = 0.7): Tensor {
  return f64(new Array(rows * dim).fill(v), [rows, dim]);
}

function expectClose(actual: number, expected: number, rtol = 1e-6, atol = 1e-9): void {
  if (!(Math.abs(actual - expected) <= atol + rtol * Math.abs(expected))) {
    throw new Error(`expected ${actual} to be within rtol ${rtol} of ${expected}`);
  }
}

function callLoss(c: FixtureCase, t: (Tensor | undefined)[]): LossResult {
  const o = c.options;
  switch (c.loss) {
    case 'ntXentPair':
      return ntXentPair(t[0]!, t[1]!, o);
    case 'momentumNtXent':
      return momentumNtXent(t[0]!, t[1]!, t[2]!, t[3]!, o);
    case 'ntXent':
      return ntXent(t[0]!, t[1]!, { ...o, positiveIndex: t[2]!, selfIndex: t[3] });
    case 'infoNce':
      return infoNce(t[0]!, t[1]!, {
        ...o,
        negatives: t[2] ? { keys: t[2], valid: t[3], sampleIndex: t[4] } : undefined,
        queryIndex: t[5],
      });
    case 'byolLoss':
      return byolLoss(t[0]!, t[1]!);
    case 'negativeCosine':
      return negativeCosine(t[0]!, t[1]!);
    case 'dinoLoss':
      return dinoLoss(t.slice(0, 4).filter((x): x is Tensor => x !== undefined), [t[4]!, t[5]!], t[6]!, o);
    default:
      throw new Error(`unknown loss ${c.loss}`);
  }
}

/** Native errors come from Node's realm, not jest's sandbox, so match the class by name. */
let baseline = 0;
beforeEach(() => {
  baseline = memory().numTensors;
});
afterEach(() => {
  expect(memory().numTensors).toBe(baseline);
});

describe('losses match PyTorch autograd (value and gradient, float64)', () => {
  test('fixtures are present', () => {
    expect(cases.length).toBeGreaterThanOrEqual(17);
    expect(cases.filter((c) => c.loss === 'dinoLoss')).toHaveLength(3);
    expect(cases.some((c) => c.options.temperature === 0.05)).toBe(true);
  });

  test.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const inputs = c.inputs.map((e) => (e === null ? undefined : decode(e)));
    const r = callLoss(c, inputs);
    try {
      expectClose(r.loss, c.value);
      const want = c.grads.filter((g): g is Encoded => g !== null);
      expect(r.grads).toHaveLength(want.length);
      r.grads.forEach((g, i) => {
        expect(g.shape).toEqual(want[i].shape);
        expect(g.dtype).toBe('float64');
        const got = g.toTypedArray() as Float64Array;
        const scale = Math.max(...want[i].data.map(Math.abs), 1e-12);
        want[i].data.forEach((w, j) => expectClose(got[j], w, 1e-6, 1e-9 * scale));
      });
    } finally {
      disposeAll(inputs, r.grads);
    }
  });
});

describe('closed forms', () => {
  test.each([1, 2, 4])('ntXentPair of 2N=%p equal embeddings is log(2N-1)', (n) => {
    const a = filled(n, 8);
    const b = filled(n, 8);
    const r = ntXentPair(a, b, { temperature: 0.05 });
    expectClose(r.loss, Math.log(2 * n - 1), 1e-12);
    disposeAll(a, b, r.grads);
  });

  test('momentumNtXent of equal embeddings is log(2N-1); keys get zero gradient', () => {
    const t = [filled(3, 4), filled(3, 4), filled(3, 4), filled(3, 4)];
    const r = momentumNtXent(t[0], t[1], t[2], t[3]);
    expectClose(r.loss, Math.log(5), 1e-12);
    expect(r.grads).toHaveLength(4);
    expect(Array.from(r.grads[2].toTypedArray() as Float64Array).every((x) => x === 0)).toBe(true);
    disposeAll(t, r.grads);
  });

  test('infoNce with K valid negatives of equal embeddings is log(K+1)', () => {
    const q = filled(4, 6);
    const keys = filled(9, 6);
    const valid = Tensor.from(Uint8Array.from([1, 1, 0, 1, 1, 1, 0, 1, 1]), [9]);
    const r = infoNce(q, q, { negatives: { keys, valid }, temperature: 0.05 });
    expectClose(r.loss, Math.log(7 + 1), 1e-12);
    const r2 = infoNce(q, q, { negatives: { keys, valid }, inBatchNegatives: true });
    expectClose(r2.loss, Math.log(7 + 3 + 1), 1e-12);
    disposeAll(q, keys, valid, r.grads, r2.grads);
  });

  test('negativeCosine is -1 for aligned and +1 for opposite vectors; z gets no gradient', () => {
    const p = f64([1, 2, 3, -1, 0, 2], [2, 3]);
    const r = negativeCosine(p, p);
    expectClose(r.loss, -1, 1e-12);
    const q = f64([-1, -2, -3, 1, 0, -2], [2, 3]);
    const r2 = negativeCosine(p, q);
    expectClose(r2.loss, 1, 1e-12);
    expect(Array.from(r2.grads[1].toTypedArray() as Float64Array).every((x) => x === 0)).toBe(true);
    disposeAll(p, q, r.grads, r2.grads);
  });

  test('dinoLoss of a constant student is log K whatever the teacher; teacher and centre get no gradient', () => {
    const k = 6;
    const s = [filled(3, k, 0.5), filled(3, k, 0.5), filled(3, k, 0.5)];
    const t = [f64(Array.from({ length: 3 * k }, (_, i) => Math.sin(i)), [3, k]), f64(Array.from({ length: 3 * k }, (_, i) => Math.cos(i)), [3, k])] as [Tensor, Tensor];
    const c = f64(new Array(k).fill(0.1), [k]);
    const r = dinoLoss(s, t, c, { studentTemperature: 0.1, teacherTemperature: 0.04 });
    expectClose(r.loss, Math.log(k), 1e-12);
    expect(r.grads).toHaveLength(6);
    for (const g of r.grads.slice(3)) expect(Array.from(g.toTypedArray() as Float64Array).every((x) => x === 0)).toBe(true);
    expect(() => dinoLoss([s[0]], t, c)).toThrow(/student must be an array of 2 to 4/);
    const short = f64([1, 2], [2]);
    expect(() => dinoLoss(s, t, short)).toThrow(/center must have 6 elements/);
    disposeAll(s, t, c, short, r.grads);
  });

  test('byolLoss is 0 for aligned and 4 for opposite vectors', () => {
    const p = f64([1, 2, 3, -1, 0, 2], [2, 3]);
    const k = f64([2, 4, 6, -3, 0, 6], [2, 3]);
    const n = f64([-1, -2, -3, 1, 0, -2], [2, 3]);
    const r1 = byolLoss(p, k);
    const r2 = byolLoss(p, n);
    expectClose(r1.loss, 0, 0, 1e-12);
    expectClose(r2.loss, 4, 1e-12);
    disposeAll(p, k, n, r1.grads, r2.grads);
  });

  test('stable at τ = 0.05 with near-identical float32 embeddings', () => {
    const base = Array.from({ length: 16 }, (_, i) => Math.sin(i + 1));
    const jitter = (rows: number, seed: number): Tensor =>
      Tensor.from(Float32Array.from({ length: rows * 16 }, (_, i) => base[i % 16] + 1e-7 * Math.sin(seed * 97 + i)), [rows, 16]);
    const a = jitter(8, 1);
    const b = jitter(8, 2);
    const r = ntXentPair(a, b, { temperature: 0.05 });
    expect(Number.isFinite(r.loss)).toBe(true);
    expectClose(r.loss, Math.log(15), 1e-3);
    r.grads.forEach((g) => expect(Array.from(g.toTypedArray() as Float32Array).every(Number.isFinite)).toBe(true));
    disposeAll(a, b, r.grads);
  });
});

describe('argument errors', () => {
  const a = (): Tensor => filled(2, 3);

  test.each([0, -1, NaN, Infinity])('temperature %p is a RangeError naming it', (tau) => {
    const x = a();
    expect(() => ntXentPair(x, x, { temperature: tau })).toThrow(expect.objectContaining({ name: 'RangeError' }));
    expect(() => ntXentPair(x, x, { temperature: tau })).toThrow(/temperature must be a finite number >= 0.0001/);
    expect(() => infoNce(x, x, { inBatchNegatives: true, temperature: tau })).toThrow(/infoNce: temperature/);
    x.dispose();
  });

  test('a non-number temperature is a TypeError', () => {
    const x = a();
    expect(() => ntXentPair(x, x, { temperature: '0.2' as unknown as number })).toThrow(TypeError);
    x.dispose();
  });

  test('non-tensors and mismatched shapes/dtypes are TypeErrors naming the argument', () => {
    const x = a();
    const y = filled(2, 4);
    const z = Tensor.from(Float32Array.from([1, 2, 3, 4, 5, 6]), [2, 3]);
    expect(() => ntXentPair(x, [1, 2] as unknown as Tensor)).toThrow(/ntXentPair: b must be a Tensor/);
    expectThrows(() => ntXentPair(x, y), 'TypeError', /ntXentPair: b must have shape/);
    expectThrows(() => byolLoss(x, z), 'TypeError', /byolLoss: k must have the dtype of p/);
    const flat = f64([1, 2, 3], [3]);
    expectThrows(() => byolLoss(flat, flat), 'TypeError', /p must be 2-D/);
    expectThrows(() => infoNce(x, x), 'TypeError', /no negatives/);
    const badIdx = i64([0, 5]);
    expectThrows(() => ntXent(x, x, { positiveIndex: badIdx }), 'RangeError', /positiveIndex values must be in \[0, 2\)/);
    const intIdx = Tensor.from(Int32Array.from([1, 0]), [2]);
    expectThrows(() => ntXent(x, x, { positiveIndex: intIdx }), 'TypeError', /positiveIndex must be int64/);
    disposeAll(x, y, z, flat, badIdx, intIdx);
  });

  test('NaN/Inf inputs are RangeErrors with code ERR_OUT_OF_RANGE', () => {
    const x = a();
    const bad = f64([1, NaN, 3, 4, 5, Infinity], [2, 3]);
    let err: unknown;
    try {
      ntXentPair(x, bad);
    } catch (e) {
      err = e;
    }
    expect((err as Error).name).toBe('RangeError');
    expect((err as Error).message).toMatch(/ntXentPair: b must be finite/);
    expect((err as { code?: string }).code).toBe('ERR_OUT_OF_RANGE');
    disposeAll(x, bad);
  });

  test('a disposed input is reported by name', () => {
    const x = a();
    const y = a();
    y.dispose();
    expect(() => byolLoss(x, y)).toThrow(/k: tensor has been disposed/);
    x.dispose();
  });
});
