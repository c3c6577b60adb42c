import { info, setNumThreads, Tensor, disposeAll } from '../../lib';

describe('runtime', () => {
  test('info() reports LibTorch, CUDA and threads', () => {
    const i = info();
    expect(i.torchVersion).toMatch(/^\d+\.\d+\.\d+/);
    expect(typeof i.cudaAvailable).toBe('boolean');
    expect(i.numThreads).toBeGreaterThanOrEqual(1);
    expect(['openmp', 'native', 'tbb']).toContain(i.parallelBackend);
  });

  test('setNumThreads validates and applies', async () => {
    const prev = info().numThreads;
    expect(() => setNumThreads(0)).toThrow(/n must be an integer >= 1/);
    expect(() => setNumThreads(1.5)).toThrow(/integer/);
    setNumThreads(1);
    expect(info().numThreads).toBe(1);
    // A job runs under the new setting without error.
    const a = Tensor.from(new Float32Array(4).fill(1), [2, 2]);
    const c = await a.matmul(a);
    expect(Array.from(c.toTypedArray() as Float32Array)).toEqual([2, 2, 2, 2]);
    disposeAll(a, c);
    setNumThreads(prev);
  });
});
