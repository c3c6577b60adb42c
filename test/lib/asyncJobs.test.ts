import { Tensor, disposeAll } from '../../lib';

describe('async native jobs', () => {
  test('a long job runs off the event loop: a 10 ms timer keeps firing', async () => {
    // Grow the job until one takes several hundred ms here; measure the timer during that job.
    let n = 512;
    for (let attempt = 0; attempt < 10; attempt++) {
      const a = Tensor.from(new Float32Array(n * n).fill(0.25), [n, n]);
      let ticks = 0;
      let maxLag = 0;
      let last = performance.now();
      const timer = setInterval(() => {
        const now = performance.now();
        maxLag = Math.max(maxLag, now - last - 10);
        last = now;
        ticks++;
      }, 10);
      const t0 = performance.now();
      const c = await a.matmul(a);
      const jobMs = performance.now() - t0;
      clearInterval(timer);
      const v = (c.toTypedArray() as Float32Array)[0];
      disposeAll(a, c);
      if (jobMs < 250) {
        n = Math.min(8192, Math.ceil(n * Math.cbrt(400 / Math.max(jobMs, 1)) * 1.05));
        continue;
      }
      expect(v).toBeCloseTo(n * 0.0625, 1);
      // The JS thread stayed free: ticks kept coming during the whole job.
      expect(ticks).toBeGreaterThanOrEqual(Math.floor(jobMs / 10 / 3));
      expect(maxLag).toBeLessThan(100);
      return;
    }
    throw new Error('could not make a job of >= 250 ms');
  });

  test('jobs settle in submission order and failures reject without affecting others', async () => {
    const a = Tensor.from(new Float32Array([1, 2, 3, 4]), [2, 2]);
    const bad = Tensor.from(new Float32Array(3), [3]);
    const order: string[] = [];
    const p1 = a.matmul(a).then((t) => (order.push('1'), t));
    const p2 = a.matmul(bad).catch((e) => (order.push('2'), e));
    const p3 = a.matmul(a).then((t) => (order.push('3'), t));
    const [r1, e2, r3] = await Promise.all([p1, p2, p3]);
    expect(order).toEqual(['1', '2', '3']);
    expect((e2 as Error).name).toBe('Error');
    expect((e2 as Error).message).toMatch(/^LibTorch: /);
    expect((e2 as Error & { code: string }).code).toBe('ERR_TORCH');
    disposeAll(a, bad, r1, r3);
  });
});
