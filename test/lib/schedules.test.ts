// momentumAt / lrAt against their closed forms (design §2, §6).
import { lrAt, momentumAt } from '../../lib/schedules';

function expectCode(err: unknown, name: string, code: string): void {
  expect(err).toMatchObject({ name, code });
}

describe('momentumAt', () => {
  test('cosine from base to final over T steps', () => {
    expect(momentumAt(0, 1000, 0.99, 1)).toBeCloseTo(0.99, 15);
    expect(momentumAt(500, 1000, 0.99, 1)).toBeCloseTo(0.995, 15);
    expect(momentumAt(1000, 1000, 0.99, 1)).toBeCloseTo(1, 15);
    expect(momentumAt(250, 1000, 0.99, 1)).toBeCloseTo(1 - (0.01 * (Math.cos(Math.PI / 4) + 1)) / 2, 15);
    expect(momentumAt(7, 10, 0.996, 0.996)).toBe(0.996);
  });

  test('rejects bad arguments with the argument named', () => {
    try {
      momentumAt(0, 0, 0.9, 0.99);
      throw new Error('no throw');
    } catch (e) {
      expectCode(e, 'RangeError', 'ERR_OUT_OF_RANGE');
      expect((e as Error).message).toMatch(/totalSteps/);
    }
    expect(() => momentumAt(0, 10, 1.5, 0.99)).toThrow(/base must be in \[0, 1\]/);
    expect(() => momentumAt(1.5, 10, 0.9, 0.99)).toThrow(expect.objectContaining({ name: 'RangeError' }));
    expect(() => momentumAt('1' as unknown as number, 10, 0.9, 0.99)).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG' }));
  });
});

describe('lrAt', () => {
  test('linear warmup then cosine', () => {
    expect(lrAt(0, 110, 10, 0.5, 0.01)).toBeCloseTo(0.05, 15);
    expect(lrAt(9, 110, 10, 0.5, 0.01)).toBeCloseTo(0.5, 15);
    expect(lrAt(60, 110, 10, 0.5, 0.01)).toBeCloseTo(0.255, 15);
    expect(lrAt(110, 110, 10, 0.5, 0.01)).toBeCloseTo(0.01, 15);
    expect(lrAt(50, 100, 0, 0.3)).toBeCloseTo(0.15, 15);
    expect(() => lrAt(0, 10, 11, 0.1)).toThrow(/warmupSteps/);
  });
});
