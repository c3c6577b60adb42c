// The launcher in-process, with tiny `node -e` workers (no addon): the torchrun environment,
// per-line prefixes, fail-together with its first failure named, SIGKILL after the grace period,
// and no worker left behind. Signals to a launcher process are in test/lib/cli/launch.test.ts.
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';

import { freePort, launch, LaunchOptions, workerEnv } from '../../../lib/distributed/launcher';
import { libPath, runNode } from '../../helpers/child';
import { stillAlive } from '../../helpers/pids';

jest.setTimeout(30000);

const ENV_KEYS = ['RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'LOCAL_WORLD_SIZE', 'GROUP_RANK', 'GROUP_WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT', 'OMP_NUM_THREADS', 'MOMENTUM_SSL_LAUNCHED'];

/** process.env without OMP_NUM_THREADS (the test runner's may have it). */
function baseEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  if (!('OMP_NUM_THREADS' in extra)) delete env.OMP_NUM_THREADS;
  return env;
}

/** Runs `node -e code` as the workers, capturing the launcher's output. */
async function run(code: string, o: Partial<LaunchOptions> = {}) {
  let stdout = '';
  let stderr = '';
  const logs: string[] = [];
  let pids: number[] = [];
  const t0 = Date.now();
  const result = await launch({
    command: process.execPath,
    args: ['-e', code],
    nprocPerNode: 2,
    forwardSignals: false,
    env: baseEnv(),
    stdout: (s) => (stdout += s),
    stderr: (s) => (stderr += s),
    log: (l) => logs.push(l),
    onSpawn: (ws) => (pids = ws.map((w) => w.pid!)),
    ...o,
  });
  return { result, stdout, stderr, logs, pids, seconds: (Date.now() - t0) / 1000 };
}

/** The `[rank R] {json}` lines of stdout, by rank. */
function jsonByRank(stdout: string): Map<number, Record<string, string>> {
  const m = new Map<number, Record<string, string>>();
  for (const line of stdout.split('\n').filter(Boolean)) {
    const g = /^\[rank (\d+)\] (\{.*\})$/.exec(line);
    if (g) m.set(Number(g[1]), JSON.parse(g[2]));
  }
  return m;
}

const PRINT_ENV = `const e = {}; for (const k of ${JSON.stringify(ENV_KEYS)}) e[k] = process.env[k]; console.log(JSON.stringify(e));`;

describe('launch', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mssl-launch-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('N=2 on one node: the torchrun environment, OMP_NUM_THREADS=1, exit 0', async () => {
    const r = await run(PRINT_ENV);
    expect(r.result.exitCode).toBe(0);
    expect(r.result.failure).toBeUndefined();
    const env = jsonByRank(r.stdout);
    expect([...env.keys()].sort()).toEqual([0, 1]);
    for (const rank of [0, 1]) {
      expect(env.get(rank)).toEqual({
        RANK: String(rank),
        WORLD_SIZE: '2',
        LOCAL_RANK: String(rank),
        LOCAL_WORLD_SIZE: '2',
        GROUP_RANK: '0',
        GROUP_WORLD_SIZE: '1',
        MASTER_ADDR: '127.0.0.1',
        MASTER_PORT: '29500',
        OMP_NUM_THREADS: '1',
        MOMENTUM_SSL_LAUNCHED: '1',
      });
    }
    expect(r.result.workers.map((w) => [w.rank, w.code, w.signal])).toEqual([
      [0, 0, null],
      [1, 0, null],
    ]);
  });

  test('--nnodes 2 --node-rank 1: global ranks 2 and 3 of 4, group rank 1', async () => {
    const r = await run(PRINT_ENV, { nnodes: 2, nodeRank: 1, masterAddr: '10.1.2.3', masterPort: 1234 });
    expect(r.result.exitCode).toBe(0);
    const env = jsonByRank(r.stdout);
    for (const [rank, local] of [
      [2, 0],
      [3, 1],
    ]) {
      expect(env.get(rank)).toMatchObject({ RANK: String(rank), WORLD_SIZE: '4', LOCAL_RANK: String(local), LOCAL_WORLD_SIZE: '2', GROUP_RANK: '1', GROUP_WORLD_SIZE: '2', MASTER_ADDR: '10.1.2.3', MASTER_PORT: '1234' });
    }
  });

  test("the user's OMP_NUM_THREADS is kept; one worker gets none added", () => {
    const t = { rank: 0, localRank: 0, nnodes: 1, nodeRank: 0, masterAddr: 'h', masterPort: 1 };
    expect(workerEnv({ OMP_NUM_THREADS: '4' }, { ...t, nprocPerNode: 2 }).OMP_NUM_THREADS).toBe('4');
    expect(workerEnv({}, { ...t, nprocPerNode: 2 }).OMP_NUM_THREADS).toBe('1');
    expect(workerEnv({}, { ...t, nprocPerNode: 1 }).OMP_NUM_THREADS).toBeUndefined();
    expect(workerEnv({}, { ...t, nprocPerNode: 1, rdzvTimeoutSeconds: 90 }).MOMENTUM_SSL_RDZV_TIMEOUT).toBe('90');
  });

  test('output: every line prefixed whole, stdout and stderr apart, the partial last line flushed', async () => {
    // Lines written in pieces, many lines from both ranks at once, and no final newline.
    const code = `
      const r = process.env.RANK;
      process.stdout.write('begin-' + r);
      setTimeout(() => {
        process.stdout.write('-end\\nsecond ' + r + '\\n');
        for (let i = 0; i < 200; i++) process.stdout.write('line ' + i + ' of rank ' + r + ' ' + 'x'.repeat(i) + '\\n');
        process.stderr.write('warn ' + r + '\\n' + 'tail-err ' + r);
        process.stdout.write('tail ' + r);
      }, 50);`;
    const r = await run(code);
    expect(r.result.exitCode).toBe(0);
    const out = r.stdout.split('\n');
    expect(out.pop()).toBe(''); // ends with a newline
    for (const rank of [0, 1]) {
      const mine = out.filter((l) => l.startsWith(`[rank ${rank}] `)).map((l) => l.slice(`[rank ${rank}] `.length));
      expect(mine[0]).toBe(`begin-${rank}-end`);
      expect(mine[1]).toBe(`second ${rank}`);
      for (let i = 0; i < 200; i++) expect(mine[2 + i]).toBe(`line ${i} of rank ${rank} ${'x'.repeat(i)}`);
      expect(mine[202]).toBe(`tail ${rank}`);
      expect(mine).toHaveLength(203);
    }
    expect(out.every((l) => /^\[rank [01]\] /.test(l))).toBe(true);
    const err = r.stderr.split('\n').filter(Boolean).sort();
    expect(err).toEqual(['[rank 0] tail-err 0', '[rank 0] warn 0', '[rank 1] tail-err 1', '[rank 1] warn 1']);
  });

  test('a worker exiting 3: exit code 1 naming rank 1 and status 3; the sleeping worker is terminated', async () => {
    const code = `process.env.RANK === '1' ? setTimeout(() => process.exit(3), 300) : setTimeout(() => {}, 60000);`;
    const r = await run(code);
    expect(r.result.exitCode).toBe(1);
    expect(r.result.failure).toMatchObject({ rank: 1, code: 3, signal: null, pid: r.pids[1] });
    expect(r.result.failure!.message).toBe(`rank 1 (pid ${r.pids[1]}) exited with status 3; stopped the other 1 worker(s)`);
    expect(r.result.workers[0]).toMatchObject({ rank: 0, signal: 'SIGTERM' });
    expect(r.seconds).toBeLessThan(10);
    expect(await stillAlive(r.pids)).toEqual([]);
  });

  test('a worker killed by SIGKILL mid-run: reported as such, the other stopped, no orphan', async () => {
    const code = `console.log('up'); process.env.RANK === '0' ? setTimeout(() => process.kill(process.pid, 'SIGKILL'), 300) : setInterval(() => {}, 1000);`;
    const r = await run(code);
    expect(r.result.exitCode).toBe(1);
    expect(r.result.failure).toMatchObject({ rank: 0, code: null, signal: 'SIGKILL' });
    expect(r.result.failure!.message).toBe(`rank 0 (pid ${r.pids[0]}) was killed by SIGKILL; stopped the other 1 worker(s)`);
    expect(r.seconds).toBeLessThan(30);
    expect(await stillAlive(r.pids)).toEqual([]);
  });

  test('the first failure is the one reported, later exits caused by stopping are not', async () => {
    const ready = path.join(dir, `first-${Date.now()}`);
    // Rank 1 fails first (once rank 0 is ready); rank 0 answers the SIGTERM by exiting 5, which is no second report.
    const code = `
      const fs = require('fs');
      if (process.env.RANK === '0') { process.on('SIGTERM', () => process.exit(5)); fs.writeFileSync(${JSON.stringify(ready)}, ''); setInterval(() => {}, 1000); }
      else { const t = setInterval(() => { if (fs.existsSync(${JSON.stringify(ready)})) { clearInterval(t); process.exit(4); } }, 20); }`;
    const r = await run(code);
    expect(r.result.failure).toMatchObject({ rank: 1, code: 4 });
    expect(r.result.workers[0]).toMatchObject({ code: 5, signal: null });
  });

  test('a worker ignoring SIGTERM gets SIGKILL after the grace period', async () => {
    const ready = path.join(dir, `ignoring-${Date.now()}`);
    // Rank 0 ignores SIGTERM (and says so by a file); rank 1 fails once rank 0 is ready.
    const code = `
      const fs = require('fs');
      if (process.env.RANK === '0') { process.on('SIGTERM', () => console.log('ignored SIGTERM')); fs.writeFileSync(${JSON.stringify(ready)}, ''); setInterval(() => {}, 1000); }
      else { const t = setInterval(() => { if (fs.existsSync(${JSON.stringify(ready)})) { clearInterval(t); process.exit(2); } }, 20); }`;
    const r = await run(code, { graceSeconds: 0.5 });
    expect(r.result.failure).toMatchObject({ rank: 1, code: 2 });
    expect(r.result.workers[0]).toMatchObject({ signal: 'SIGKILL' });
    expect(r.stdout).toContain('[rank 0] ignored SIGTERM');
    expect(r.result.failure!.message).toMatch(/stopped the other 1 worker\(s\) \(1 with SIGKILL after 0\.5 s\)$/);
    expect(r.logs.join('\n')).toMatch(/1 worker\(s\) still running 0\.5 s after SIGTERM: SIGKILL/);
    expect(r.seconds).toBeGreaterThanOrEqual(0.5);
    expect(await stillAlive(r.pids)).toEqual([]);
  });

  test("a stopped worker's own child goes too, even one that ignores SIGTERM and holds the pipes", async () => {
    // Rank 0 spawns a grandchild that ignores SIGTERM; rank 1 fails once that is running.
    const ready = path.join(dir, `grandchild-${Date.now()}`);
    const grandchild = `process.on('SIGTERM', () => {}); console.log('grandchild ' + process.pid); require('fs').writeFileSync(${JSON.stringify(ready)}, ''); setInterval(() => {}, 1000);`;
    const code = `
      const fs = require('fs');
      if (process.env.RANK === '0') require('child_process').spawn(process.execPath, ['-e', ${JSON.stringify(grandchild)}], { stdio: 'inherit' });
      else { const t = setInterval(() => { if (fs.existsSync(${JSON.stringify(ready)})) { clearInterval(t); process.exit(3); } }, 20); }
      setInterval(() => {}, 1000);`;
    const r = await run(code, { graceSeconds: 5 });
    expect(r.result.failure).toMatchObject({ rank: 1, code: 3 });
    const g = /^\[rank 0\] grandchild (\d+)$/m.exec(r.stdout);
    expect(g).not.toBeNull();
    expect(await stillAlive([Number(g![1]), ...r.pids])).toEqual([]);
    expect(r.seconds).toBeLessThan(5);
  });

  test('a line longer than 1 MiB comes out in 1 MiB pieces', async () => {
    const r = await run(`process.stdout.write('y'.repeat(1.5 * 2 ** 20) + '\\nz');`, { nprocPerNode: 1 });
    expect(r.stdout.split('\n').map((l) => l.length)).toEqual([9 + 2 ** 20, 9 + 2 ** 19, 9 + 1, 0]);
  });

  test('a launcher crashing mid-run (an uncaught exception in its own process) leaves no worker', async () => {
    // The stdout sink throws on rank 0's first line, after each printed its pid on stderr; rank 1
    // ignores SIGTERM and prints nothing more (no EPIPE to end it).
    const worker = `process.on('SIGTERM', () => {}); console.error('pid ' + process.pid); if (process.env.RANK === '0') setTimeout(() => console.log('hello'), 300); setInterval(() => {}, 1000);`;
    const r = runNode(
      `require(${JSON.stringify(path.join(libPath, 'distributed', 'launcher'))}).launch({ command: process.execPath, args: ['-e', ${JSON.stringify(worker)}], nprocPerNode: 2, stdout: () => { throw new Error('sink broke'); } });`,
      { timeoutMs: 20000 },
    );
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/sink broke/);
    const pids = [...r.stderr.matchAll(/^\[rank \d\] pid (\d+)$/gm)].map((m) => Number(m[1]));
    expect(pids).toHaveLength(2);
    expect(await stillAlive(pids)).toEqual([]);
  });

  test('a program that does not exist: a failure naming it and ENOENT', async () => {
    const r = await run('', { command: 'momentum-ssl-no-such-program', args: ['x'] });
    expect(r.result.exitCode).toBe(1);
    expect(r.result.failure).toMatchObject({ rank: 0, pid: undefined });
    expect(r.result.failure!.message).toBe("rank 0 could not start 'momentum-ssl-no-such-program': no such program on PATH or file (ENOENT)");
    expect(r.result.workers.every((w) => w.spawnError !== undefined)).toBe(true);
  });

  test('aborting stops the workers as SIGTERM would: exit 143', async () => {
    const ac = new AbortController();
    let ready = 0;
    const code = `process.on('SIGTERM', () => { console.log('got SIGTERM'); process.exit(143); }); console.log('ready'); setInterval(() => {}, 1000);`;
    const r = await run(code, {
      signal: ac.signal,
      stdout: (s) => {
        ready += s.split('ready').length - 1;
        if (ready === 2) ac.abort();
      },
    });
    expect(r.result.exitCode).toBe(143);
    expect(r.result.interrupted).toBe('SIGTERM');
    expect(r.result.failure).toBeUndefined();
    expect(r.result.workers.map((w) => w.code)).toEqual([143, 143]);
    expect(await stillAlive(r.pids)).toEqual([]);
  });

  test('masterPort 0 (standalone): a free loopback port the workers can bind', async () => {
    const code = `const s = require('net').createServer(); s.on('error', (e) => { console.log(e.code); process.exit(1); }); s.listen(Number(process.env.MASTER_PORT), process.env.MASTER_ADDR, () => { console.log('bound ' + process.env.MASTER_PORT); s.close(); });`;
    const r = await run(code, { nprocPerNode: 1, masterPort: 0 });
    expect(r.result.exitCode).toBe(0);
    expect(r.result.masterPort).toBeGreaterThan(0);
    expect(r.stdout).toBe(`[rank 0] bound ${r.result.masterPort}\n`);
    const p = await freePort();
    await new Promise<void>((resolve, reject) => {
      const s = net.createServer().on('error', reject);
      s.listen(p, '127.0.0.1', () => s.close(() => resolve()));
    });
  });

  test('bad options are rejected naming the option, before anything is spawned', async () => {
    const base: LaunchOptions = { command: process.execPath, nprocPerNode: 1 };
    await expect(launch({ ...base, nprocPerNode: 0 })).rejects.toThrow(/nprocPerNode must be an integer >= 1, got 0/);
    await expect(launch({ ...base, nprocPerNode: 1.5 })).rejects.toThrow(/nprocPerNode/);
    await expect(launch({ ...base, nnodes: 2, nodeRank: 2 })).rejects.toThrow(/nodeRank must be an integer in 0\.\.1, got 2/);
    await expect(launch({ ...base, masterPort: 70000 })).rejects.toThrow(/masterPort must be an integer in 1\.\.65535/);
    await expect(launch({ ...base, nnodes: 2, masterPort: 0 })).rejects.toThrow(/masterPort must be given when nnodes > 1/);
    await expect(launch({ ...base, command: '' })).rejects.toThrow(/command must be a non-empty string/);
  });
});
