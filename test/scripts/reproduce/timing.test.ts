import { stepMean } from '../../../scripts/reproduce/timing';

test('step means leave out a step that spanned a pause', () => {
  // Four ordinary steps and one that held a 2-hour SIGSTOP: the mean is of the four.
  const totals = [500, 520, 480, 510, 7.9e6];
  expect(stepMean(totals, totals)).toBeCloseTo(502.5, 10);
  // Another phase's values follow the same steps.
  expect(stepMean([1, 2, 3, 4, 5], totals)).toBeCloseTo(2.5, 10);
  // Ten times the median is the limit: a slow-but-working step (9x) stays in.
  expect(stepMean([100, 100, 900], [100, 100, 900])).toBeCloseTo(366.667, 3);
  expect(stepMean([], [])).toBeNaN();
});
