// ProcessGroup over real c10d Gloo on loopback, one Node process per rank: rendezvous, agreement
// checks naming the first differing field, and clear errors (never a hang) for an unreachable
// master, a WORLD_SIZE mismatch and a peer that died.
import { spawn } from 'child_process';
import * as path from 'path';

import { freePort } from '../../../lib/distributed/launcher';
import { libPath, repoRoot } from '../../helpers/child';

const TS_NODE = require.resolve('ts-node/register/transpile-only');

interface Out {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

function rank(code: string, env: Record<string, string>, timeoutMs = 40000): Promise<Out> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['-r', TS_NODE, '-e', code], {
      cwd: repoRoot,
      env: { ...process.env, TS_NODE_PROJECT: path.join(repoRoot, 'tsconfig.json'), OMP_NUM_THREADS: '1', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (c) => {
      clearTimeout(timer);
      resolve({ code: c, stdout, stderr, ms: Date.now() - t0 });
    });
  });
}

const env = (r: number, world: number, port: number): Record<string, string> => ({ RANK: String(r), WORLD_SIZE: String(world), MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port) });

// A worker that joins with short timeouts and runs `body` with `pg` in scope.
const worker = (body: string) => `
const { ProcessGroup } = require(${JSON.stringify(libPath)});
(async () => {
  const pg = await ProcessGroup.init({ connectTimeoutMs: 4000, timeoutMs: 4000 });
  ${body}
})().catch((e) => { console.error('ERROR ' + e.message); process.exit(3); });`;

describe('ProcessGroup (c10d Gloo, loopback)', () => {
  it('joins two ranks and exchanges strings in rank order', async () => {
    const port = await freePort();
    const body = `const s = await pg.allGatherStrings('from ' + pg.rank); console.log(JSON.stringify({ rank: pg.rank, world: pg.worldSize, s })); await pg.shutdown();`;
    const outs = await Promise.all([0, 1].map((r) => rank(worker(body), env(r, 2, port))));
    for (const [r, o] of outs.entries()) {
      expect(o.code).toBe(0);
      expect(JSON.parse(o.stdout.trim())).toEqual({ rank: r, world: 2, s: ['from 0', 'from 1'] });
    }
  });

  it('names the first field that differs between ranks, on every rank', async () => {
    const port = await freePort();
    const body = `await pg.agree('the test config', { batchSize: 8, model: { optimizer: { lr: pg.rank === 0 ? 0.1 : 0.2 }, ema: { parts: ['projector'] } }, steps: 5 });`;
    const outs = await Promise.all([0, 1].map((r) => rank(worker(body), env(r, 2, port))));
    for (const o of outs) {
      expect(o.code).toBe(3);
      expect(o.stderr).toContain('distributed: the test config differs between ranks: model.optimizer.lr is 0.1 on rank 0 but 0.2 on rank 1');
    }
  });

  it('fails every rank naming both sizes when WORLD_SIZE differs', async () => {
    const port = await freePort();
    const outs = await Promise.all([rank(worker(''), env(0, 2, port)), rank(worker(''), env(1, 3, port))]);
    for (const o of outs) {
      expect(o.code).toBe(3);
      expect(o.stderr).toContain('WORLD_SIZE differs between workers: rank 1 has 3, rank 0 has 2');
    }
  });

  it('names the master address and port when it cannot be reached, after the timeout', async () => {
    const port = await freePort();
    const o = await rank(worker(''), env(1, 2, port));
    expect(o.code).toBe(3);
    expect(o.stderr).toContain(`rank 1 cannot reach the master at 127.0.0.1:${port} within 4 s`);
    expect(o.ms).toBeLessThan(30000);
  });

  it('names the ranks that never joined', async () => {
    const port = await freePort();
    const o = await rank(worker(''), env(0, 3, port));
    expect(o.code).toBe(3);
    expect(o.stderr).toContain(`rendezvous at 127.0.0.1:${port} timed out after 4 s: rank(s) 1, 2 of 3 never joined`);
  });

  it('rejects a rank outside the world before connecting', async () => {
    const o = await rank(worker(''), env(2, 2, 29999));
    expect(o.code).toBe(3);
    expect(o.stderr).toContain('RANK must be in [0, WORLD_SIZE = 2), got 2');
  });

  it('turns a dead peer into an error on the survivor instead of a hang', async () => {
    const port = await freePort();
    const body = `if (pg.rank === 1) process.exit(0); await new Promise((r) => setTimeout(r, 300)); await pg.barrier(); console.log('no error');`;
    const [o0, o1] = await Promise.all([0, 1].map((r) => rank(worker(body), env(r, 2, port))));
    expect(o1.code).toBe(0);
    expect(o0.code).toBe(3);
    expect(o0.stderr).toMatch(/distributed: barrier failed on rank 0 of 2/);
    expect(o0.ms).toBeLessThan(30000);
  });
});
