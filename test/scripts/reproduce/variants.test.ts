import { MODES, runOrder, seedsOf, VARIANTS } from '../../../scripts/reproduce/variants';

describe('reproduce --long', () => {
  const long = MODES.long;
  const variants = long.variants!.map((id) => VARIANTS.find((v) => v.id === id)!);

  test('the issue #16 budget: full splits, 5 seeds of SimCLR/SimSiam, 3 of MoCo v2 and BYOL', () => {
    expect(variants.every((v) => v !== undefined)).toBe(true);
    expect([long.trainSubset, long.evalTrain, long.evalTest, long.batchSize]).toEqual([0, 0, 0, 128]);
    for (const id of ['simclr', 'simclr-full', 'simclr-projector', 'simsiam', 'simsiam-full', 'simsiam-projector']) expect(seedsOf(long, id)).toEqual([0, 1, 2, 3, 4]);
    for (const id of ['moco', 'byol', 'byol-projector']) expect(seedsOf(long, id)).toEqual([0, 1, 2]);
    expect(long.probeEvery).toBeGreaterThan(0);
  });

  test('seed-major order: every configuration of a seed before the next seed', () => {
    const order = runOrder(variants, long);
    expect(order).toHaveLength(6 * 5 + 3 * 3);
    expect(order.slice(0, 9).map((x) => x.seed)).toEqual(Array(9).fill(0));
    expect(order.slice(0, 9).map((x) => x.v.id)).toEqual(long.variants);
    // Seeds 3 and 4: the six SimCLR/SimSiam configurations only.
    expect(order.slice(27).map((x) => x.v.id)).toEqual([...long.variants!.slice(0, 6), ...long.variants!.slice(0, 6)]);
    const seeds = order.map((x) => x.seed);
    expect(seeds).toEqual([...seeds].sort((a, b) => a - b));
  });
});
