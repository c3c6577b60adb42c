import { memory } from '../../../lib';
import { EpochSampler } from '../../../lib/data';
import { thrown } from '../../helpers/errors';
import { num } from '../../helpers/files';

function epoch(s: EpochSampler): number[][] {
  return [...s].map((b) => num(b));
}

describe('EpochSampler', () => {
  let baseline: number;
  beforeAll(() => {
    baseline = memory().numTensors;
  });
  afterAll(() => {
    expect(memory().numTensors).toBe(baseline);
  });

  test('same seed, same batches; another seed or epoch, another order', () => {
    const a = new EpochSampler(100, { batchSize: 16, seed: 42 });
    const b = new EpochSampler(100, { batchSize: 16, seed: 42 });
    const c = new EpochSampler(100, { batchSize: 16, seed: 43 });
    const a0 = epoch(a), b0 = epoch(b), c0 = epoch(c);
    expect(a0).toEqual(b0);
    expect(c0).not.toEqual(a0);
    const a1 = epoch(a);
    expect(a1).not.toEqual(a0);
    expect(a.epoch).toBe(2);
    // bigint seeds work and equal the number seed of the same value.
    expect(epoch(new EpochSampler(100, { batchSize: 16, seed: 42n }))).toEqual(a0);
  });

  test('the order is frozen (part of the checkpoint format): same values as the C++ test', () => {
    expect(num(new EpochSampler(8, { batchSize: 8, seed: 0 }).next())).toEqual([6, 3, 5, 4, 2, 1, 7, 0]);
    const s = new EpochSampler(10, { batchSize: 10, seed: 12345 });
    s.setEpoch(3);
    expect(num(s.next())).toEqual([8, 7, 9, 6, 0, 2, 5, 4, 3, 1]);
  });

  test('every index exactly once per epoch, partial last batch', () => {
    const s = new EpochSampler(10, { batchSize: 4, seed: 1 });
    expect(s.batchesPerEpoch).toBe(3);
    for (let e = 0; e < 3; e++) {
      const batches = epoch(s);
      expect(batches.map((b) => b.length)).toEqual([4, 4, 2]);
      expect(batches.flat().sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    }
  });

  test('dropLast drops the partial batch', () => {
    const s = new EpochSampler({ length: 10 }, { batchSize: 4, dropLast: true, seed: 1 });
    expect(s.batchesPerEpoch).toBe(2);
    const batches = epoch(s);
    expect(batches.map((b) => b.length)).toEqual([4, 4]);
    expect(new Set(batches.flat()).size).toBe(8);
    // Exact division: nothing dropped.
    expect(new EpochSampler(8, { batchSize: 4, dropLast: true }).batchesPerEpoch).toBe(2);
  });

  test('shuffle: false walks 0..N-1', () => {
    const s = new EpochSampler(5, { batchSize: 2, shuffle: false });
    expect(epoch(s)).toEqual([[0, 1], [2, 3], [4]]);
    expect(epoch(s)).toEqual([[0, 1], [2, 3], [4]]);
  });

  test('state round trip resumes identically, mid-epoch and at a boundary', () => {
    const a = new EpochSampler(37, { batchSize: 5, seed: 7 });
    for (let i = 0; i < 10; i++) a.next(); // 8 batches per epoch: now epoch 1, position 2
    const st = a.state();
    expect(st).toEqual({ epoch: 1, position: 2 });
    const rest = Array.from({ length: 12 }, () => num(a.next()));
    const b = new EpochSampler(37, { batchSize: 5, seed: 7 });
    b.setState(JSON.parse(JSON.stringify(st)));
    expect(Array.from({ length: 12 }, () => num(b.next()))).toEqual(rest);
    // A state saved at the end of an epoch is the start of the next.
    const c = new EpochSampler(37, { batchSize: 5, seed: 7 });
    epoch(c);
    expect(c.state()).toEqual({ epoch: 1, position: 0 });
    c.setEpoch(0);
    const d = new EpochSampler(37, { batchSize: 5, seed: 7 });
    expect(epoch(c)).toEqual(epoch(d));
    // Iterating after a resume yields only the rest of that epoch.
    const e = new EpochSampler(37, { batchSize: 5, seed: 7 });
    e.setState({ epoch: 3, position: 6 });
    expect(epoch(e).length).toBe(2);
  });

  test('bad arguments are clear errors', () => {
    expect(() => new EpochSampler(10, { batchSize: 0 })).toThrow('batchSize must be in [1, 9007199254740991], got 0');
    expect(thrown(() => new EpochSampler(10, { batchSize: 0 })).name).toBe('RangeError');
    expect(() => new EpochSampler(10, { batchSize: 2.5 })).toThrow('batchSize must be an integer, got 2.5');
    expect(() => new EpochSampler(10, {} as never)).toThrow('batchSize must be an integer, got undefined');
    expect(() => new EpochSampler(0, { batchSize: 2 })).toThrow(/dataset is empty/);
    expect(() => new EpochSampler(3, { batchSize: 4, dropLast: true })).toThrow(/dropLast with batchSize 4 > dataset size 3 leaves no batch/);
    expect(() => new EpochSampler(10, { batchSize: 2, seed: -1 })).toThrow(/seed must be in \[0/);
    expect(() => new EpochSampler(10, { batchSize: 2, dropLast: 1 as never })).toThrow(/dropLast must be a boolean/);
    const s = new EpochSampler(10, { batchSize: 4 });
    expect(() => s.setState({ epoch: 0, position: 3 })).toThrow('state.position must be in [0, 3), got 3');
    expect(() => s.setState({ epoch: -1, position: 0 })).toThrow(/state.epoch must be in \[0/);
    expect(() => s.setState({ epoch: 1 } as never)).toThrow('state.position is required');
  });
});

describe('EpochSampler sharded by rank (DistributedSampler semantics)', () => {
  it('gives each rank every W-th sample, so batch b of all ranks is batch b of one process at W x B', () => {
    const W = 3;
    const B = 4;
    const single = new EpochSampler(50, { batchSize: B * W, dropLast: true, seed: 7 });
    const ranks = Array.from({ length: W }, (_, r) => new EpochSampler(50, { batchSize: B, dropLast: true, seed: 7, rank: r, worldSize: W }));
    // floor(floor(50 / 3) / 4) = 4 = floor(50 / 12)
    expect(ranks.map((s) => s.batchesPerEpoch)).toEqual([4, 4, 4]);
    expect(single.batchesPerEpoch).toBe(4);
    for (let epochNo = 0; epochNo < 2; epochNo++) {
      for (let b = 0; b < 4; b++) {
        const whole = num(single.next()).sort((x, y) => x - y);
        const parts = ranks.map((s) => num(s.next()));
        parts.forEach((p) => expect(p).toHaveLength(B));
        expect(parts.flat().sort((x, y) => x - y)).toEqual(whole);
      }
    }
    expect(ranks.map((s) => s.epoch)).toEqual([2, 2, 2]);
  });

  it('resumes a rank exactly from its state', () => {
    const a = new EpochSampler(40, { batchSize: 4, dropLast: true, seed: 1, rank: 1, worldSize: 2 });
    a.next();
    const state = a.state();
    const expected = num(a.next());
    const b = new EpochSampler(40, { batchSize: 4, dropLast: true, seed: 1, rank: 1, worldSize: 2 });
    b.setState(state);
    expect(num(b.next())).toEqual(expected);
  });

  it('rejects a rank outside the world and a sharded sampler without dropLast', () => {
    expect(thrown(() => new EpochSampler(40, { batchSize: 4, dropLast: true, rank: 2, worldSize: 2 })).message).toContain('sampler rank must be in [0, worldSize = 2), got 2');
    expect(thrown(() => new EpochSampler(40, { batchSize: 4, rank: 0, worldSize: 2 })).message).toContain('needs dropLast');
  });
});
