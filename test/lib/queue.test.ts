// NegativeQueue through JS: the rules of design §4 and checkpoint round trip.
import { infoNce } from '../../lib/losses';
import { NegativeQueue } from '../../lib/queue';
import { disposeAll, memory, Tensor } from '../../lib/tensor';
import { expectThrows } from '../helpers/errors';

function f64(data: number[], shape: number[]): Tensor {
  return Tensor.from(Float64Array.from(data), shape);
}
function i64(data: number[]): Tensor {
  return Tensor.from(BigInt64Array.from(data.map((x) => BigInt(x))), [data.length]);
}
function range(from: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => from + i);
}
/** Key of sample s: 2·e_(s mod dim), so the stored slot <-> sample mapping is checkable. */
function keysFor(samples: number[], dim: number): Tensor {
  const d = new Array(samples.length * dim).fill(0);
  samples.forEach((s, r) => (d[r * dim + (s % dim)] = 2));
  return f64(d, [samples.length, dim]);
}
/** Deterministic pseudo-random rows. */
function rows(n: number, dim: number, seed: number): Tensor {
  return f64(
    Array.from({ length: n * dim }, (_, i) => Math.sin(seed * 1000 + i * 12.9898) * 43758.5453 % 1),
    [n, dim],
  );
}
function enqueue(q: NegativeQueue, samples: number[], dim: number): void {
  const k = keysFor(samples, dim);
  const s = i64(samples);
  q.enqueue(k, s);
  disposeAll(k, s);
}
function indices(q: NegativeQueue): number[] {
  const n = q.negatives();
  const out = Array.from(n.sampleIndex.toTypedArray() as BigInt64Array, Number);
  disposeAll(n);
  return out;
}
function validFlags(q: NegativeQueue): number[] {
  const n = q.negatives();
  const out = Array.from(n.valid.toTypedArray() as Uint8Array);
  disposeAll(n);
  return out;
}

/** Native errors come from Node's realm, not jest's sandbox, so match the class by name. */
let baseline = 0;
beforeEach(() => {
  baseline = memory().numTensors;
});
afterEach(() => {
  expect(memory().numTensors).toBe(baseline);
});

test('starts empty: every slot invalid, and the loss ignores them', () => {
  const q = new NegativeQueue(6, 4, { dtype: 'float64' });
  expect([q.size, q.dim, q.pointer, q.numValid]).toEqual([6, 4, 0, 0]);
  expect(validFlags(q)).toEqual([0, 0, 0, 0, 0, 0]);
  const x = rows(3, 4, 1);
  const neg = q.negatives();
  const r = infoNce(x, x, { negatives: neg });
  expect(r.loss).toBe(0);
  disposeAll(x, neg, r.grads);
  q.dispose();
});

test("a sample's own key is never its negative in the step: loss first, then enqueue", () => {
  const q = new NegativeQueue(16, 8, { dtype: 'float64' });
  const old = rows(5, 8, 2);
  const oldIdx = i64(range(100, 5));
  q.enqueue(old, oldIdx);
  const query = rows(4, 8, 3);
  const key = f64(Array.from(query.toTypedArray() as Float64Array, (v, i) => v + 0.05 * Math.cos(i)), [4, 8]);
  const qi = i64(range(0, 4));

  const saved = q.state();
  const snap = q.negatives();
  const step = infoNce(query, key, { negatives: snap, queryIndex: qi });
  q.enqueue(key, qi);
  expect(q.numValid).toBe(9);

  // Had the keys been enqueued first, they would have been negatives of the same step.
  const first = new NegativeQueue(16, 8, { dtype: 'float64' });
  first.loadState(saved);
  first.enqueue(key, qi);
  const after = first.negatives();
  const wrong = infoNce(query, key, { negatives: { keys: after.keys, valid: after.valid } });
  expect(wrong.loss).toBeGreaterThan(step.loss + 0.1);
  // The snapshot loss is the loss against the old keys alone.
  const ref = infoNce(query, key, { negatives: { keys: old } });
  expect(Math.abs(ref.loss - step.loss)).toBeLessThan(1e-12);

  disposeAll(old, oldIdx, query, key, qi, saved.keys, saved.sampleIndex, saved.valid, snap, step.grads, after, wrong.grads, ref.grads);
  q.dispose();
  first.dispose();
});

test('wraps around when the size is not a multiple of the batch', () => {
  const q = new NegativeQueue(10, 16, { dtype: 'float64' });
  for (let s = 0; s < 3; ++s) enqueue(q, range(4 * s, 4), 16);
  expect(q.pointer).toBe(2);
  expect(q.numValid).toBe(10);
  expect(indices(q)).toEqual([10, 11, 2, 3, 4, 5, 6, 7, 8, 9]);
  // Stored normalised, each in the slot of its sample.
  const n = q.negatives();
  const k = n.keys.toTypedArray() as Float64Array;
  const idx = Array.from(n.sampleIndex.toTypedArray() as BigInt64Array, Number);
  idx.forEach((s, slot) => expect(k[slot * 16 + (s % 16)]).toBe(1));
  disposeAll(n);
  q.dispose();
});

test('accepts a partial last batch and a batch larger than the queue', () => {
  const q = new NegativeQueue(8, 16);
  enqueue(q, range(0, 3), 16);
  enqueue(q, range(3, 3), 16);
  expect([q.pointer, q.numValid]).toEqual([6, 6]);
  expect(validFlags(q)).toEqual([1, 1, 1, 1, 1, 1, 0, 0]);
  enqueue(q, range(6, 2), 16); // last, partial batch of the epoch
  expect([q.pointer, q.numValid]).toEqual([0, 8]);
  enqueue(q, range(20, 11), 16); // B > size keeps the last 8
  expect(q.pointer).toBe(3);
  expect(indices(q).slice().sort((x, y) => x - y)).toEqual(range(23, 8));
  q.dispose();
});

test('negatives with the same sample index as the query are masked', () => {
  const q = new NegativeQueue(8, 4, { dtype: 'float64' });
  const k = f64(new Array(24).fill(1), [6, 4]);
  const s = i64([0, 1, 2, 3, 1, 3]); // queue larger than an epoch: samples repeat
  q.enqueue(k, s);
  const query = f64(new Array(8).fill(1), [2, 4]);
  const qi = i64([1, 5]);
  const neg = q.negatives();
  const r = infoNce(query, query, { negatives: neg, queryIndex: qi });
  // Sample 1 keeps 4 of 6 negatives, sample 5 all 6 (all-equal embeddings: log(K+1) each).
  expect(Math.abs(r.loss - 0.5 * (Math.log(5) + Math.log(7)))).toBeLessThan(1e-12);
  disposeAll(k, s, query, qi, neg, r.grads);
  q.dispose();
});

test('state() / loadState() round trip, validated', () => {
  const a = new NegativeQueue(7, 5, { dtype: 'float64' });
  for (const [from, seed] of [[0, 4], [4, 5]]) {
    const k = rows(4, 5, seed);
    const s = i64(range(from, 4));
    a.enqueue(k, s);
    disposeAll(k, s);
  }
  const st = a.state();
  expect(st.pointer).toBe(1);
  const b = new NegativeQueue(7, 5, { dtype: 'float64' });
  b.loadState(st);
  expect([b.pointer, b.numValid]).toEqual([a.pointer, a.numValid]);
  const batch = rows(3, 5, 6);
  const bi = i64(range(8, 3));
  a.enqueue(batch, bi);
  b.enqueue(batch, bi);
  const na = a.negatives();
  const nb = b.negatives();
  expect(Array.from(nb.keys.toTypedArray() as Float64Array)).toEqual(Array.from(na.keys.toTypedArray() as Float64Array));
  expect(Array.from(nb.valid.toTypedArray() as Uint8Array)).toEqual(Array.from(na.valid.toTypedArray() as Uint8Array));
  expect(indices(b)).toEqual(indices(a));
  expect(b.pointer).toBe(a.pointer);

  // Rejected states change nothing.
  const wrongShape = new NegativeQueue(7, 4, { dtype: 'float64' });
  expectThrows(() => wrongShape.loadState(st), 'TypeError', /keys must be a floating tensor of shape \[7, 4\]/);
  expectThrows(() => b.loadState({ ...st, pointer: 7 }), 'RangeError', /pointer must be in \[0, 7\)/);
  expect(b.pointer).toBe(a.pointer);

  disposeAll(st.keys, st.sampleIndex, st.valid, batch, bi, na, nb);
  [a, b, wrongShape].forEach((q) => q.dispose());
});

test('argument errors and dispose()', () => {
  expect(() => new NegativeQueue(0, 4)).toThrow(expect.objectContaining({ name: 'RangeError' }));
  expect(() => new NegativeQueue(0, 4)).toThrow(/size must be an integer >= 1/);
  expect(() => new NegativeQueue(4, 4, { dtype: 'int32' as 'float32' })).toThrow(expect.objectContaining({ name: 'TypeError' }));
  const q = new NegativeQueue(4, 3);
  const wrong = rows(2, 5, 7);
  const idx = i64([0, 1]);
  expectThrows(() => q.enqueue(wrong, idx), 'TypeError', /keys must have shape \[B, 3\]/);
  const nan = f64([NaN, 0, 0, 1, 1, 1], [2, 3]);
  expectThrows(() => q.enqueue(nan, idx), 'RangeError', /keys must be finite/);
  expect(q.numValid).toBe(0);
  q.dispose();
  q.dispose();
  expect(q.disposed).toBe(true);
  expect(() => q.pointer).toThrow(/disposed/);
  disposeAll(wrong, idx, nan);
});
