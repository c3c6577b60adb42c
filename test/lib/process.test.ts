// Process-level behaviour: exit codes after loading LibTorch, with a job in flight, and inside
// worker_threads. Each case runs in its own Node process.
import { runNode, libPath } from '../helpers/child';

const L = JSON.stringify(libPath);

describe('process lifecycle', () => {
  test('exits cleanly after loading LibTorch', () => {
    const r = runNode(`const m = require(${L}); m.info(); console.log('loaded');`);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe('loaded');
  });

  test('stays alive for a pending job, resolves it, then exits by itself', () => {
    const r = runNode(`
      const m = require(${L});
      const a = m.Tensor.from(new Float32Array(512 * 512).fill(1), [512, 512]);
      a.matmul(a).then((c) => { console.log('resolved', c.toTypedArray()[0]); });
    `);
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe('resolved 512');
  });

  // The exit can land while the worker is starting up, inside an op, or between jobs: try several.
  test.each([0, 3, 10, 30])('process.exit() %i ms into in-flight jobs exits cleanly with the given code', (delay) => {
    const r = runNode(`
      const m = require(${L});
      const n = 1536;
      const a = m.Tensor.from(new Float32Array(n * n).fill(1), [n, n]);
      for (let i = 0; i < 4; i++) a.matmul(a);
      setTimeout(() => process.exit(7), ${delay});
    `);
    expect(r.signal).toBeNull();
    expect(r.status).toBe(7);
  });

  test('an uncaught exception while a job runs still exits normally (code 1, no abort)', () => {
    const r = runNode(`
      const m = require(${L});
      const a = m.Tensor.from(new Float32Array(1024 * 1024).fill(1), [1024, 1024]);
      a.matmul(a);
      setTimeout(() => { throw new Error('boom'); }, 5);
    `);
    expect(r.signal).toBeNull();
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/boom/);
  });

  test('loads and runs jobs inside worker_threads, which terminate cleanly', () => {
    const r = runNode(`
      const { Worker } = require('worker_threads');
      const src = \`
        require('ts-node/register/transpile-only');
        const { parentPort } = require('worker_threads');
        const m = require(${JSON.stringify(L).slice(1, -1)});
        const a = m.Tensor.from(new Float64Array([1, 2, 3, 4]), [2, 2]);
        a.matmul(a).then((c) => { parentPort.postMessage(Array.from(c.toTypedArray())); a.dispose(); c.dispose(); });
      \`;
      const runOne = () => new Promise((resolve, reject) => {
        const w = new Worker(src, { eval: true });
        w.once('message', (v) => { resolve(v); });
        w.once('error', reject);
      });
      Promise.all([runOne(), runOne()]).then((vs) => {
        console.log(JSON.stringify(vs));
        // A worker terminated mid-job must not take the process down either.
        const w = new Worker(src.replace('[1, 2, 3, 4]), [2, 2]', 'Array(1024 * 1024).fill(1)), [1024, 1024]'), { eval: true });
        setTimeout(() => w.terminate().then((code) => console.log('terminated', code)), 200);
      });
    `);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(JSON.parse(lines[0])).toEqual([[7, 10, 15, 22], [7, 10, 15, 22]]);
    expect(lines[1]).toMatch(/^terminated/);
  });
});
