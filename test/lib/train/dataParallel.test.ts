// Data-parallel pretraining end to end through `momentum-ssl launch`: 2 ranks on loopback train
// and rank 0 alone writes the run; a worker killed with SIGKILL fails the job within 30 s with no
// orphans, and the run resumed from its checkpoint continues bit-identically; two "hosts" as two
// network namespaces (skipped with the reason where the sandbox forbids them).
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { freePort } from '../../../lib/distributed/launcher';
import { repoRoot } from '../../helpers/child';
import { stillAlive } from '../../helpers/pids';

const TS_NODE = require.resolve('ts-node/register/transpile-only');
const CLI = path.join(repoRoot, 'lib', 'cli', 'index.ts');

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
  pids: number[];
}

// Tiny and quick: a width-1/16 ResNet-18 on 32-image batches of a 512-image Fashion-MNIST subset.
function pretrainArgs(out: string, steps: number, extra: string[] = [], batch = 16): string[] {
  return ['pretrain', '--dataset', 'fashion-mnist', '--subset', '512', '--steps', String(steps), '--batch-size', String(batch), '--width', '0.0625', '--checkpoint-every', '2', '--progress', 'none', '--out', out, ...extra];
}

function cli(args: string[], opts: { env?: NodeJS.ProcessEnv; poll?: (child: ReturnType<typeof spawn>) => void; timeoutMs?: number; wrap?: string[] } = {}): Promise<Run> {
  const t0 = Date.now();
  const argv = [...(opts.wrap ?? []), process.execPath, '-r', TS_NODE, CLI, ...args];
  return new Promise((resolve) => {
    const child = spawn(argv[0], argv.slice(1), {
      cwd: repoRoot,
      env: { ...process.env, TS_NODE_PROJECT: path.join(repoRoot, 'tsconfig.json'), OMP_WAIT_POLICY: 'PASSIVE', OMP_NUM_THREADS: '1', ...(opts.env ?? {}) },
    });
    let stdout = '';
    let stderr = '';
    const pids = new Set<number>();
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const poll = setInterval(() => {
      for (const p of childPids(child.pid!)) pids.add(p);
      opts.poll?.(child);
    }, 50);
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 150000);
    child.on('close', (code, signal) => {
      clearInterval(poll);
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - t0, pids: [...pids] });
    });
  });
}

function childPids(pid: number): number[] {
  try {
    return fs
      .readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

function losses(out: string): Map<number, string> {
  const m = new Map<number, string>();
  for (const line of fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const r = JSON.parse(line) as { type: string; step: number; loss: number };
    // The exact float64 value as text: "bit-identical" compares every digit.
    if (r.type === 'step') m.set(r.step, JSON.stringify(r.loss));
  }
  return m;
}

describe('data-parallel pretrain (launch, 2 ranks, loopback)', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mssl-dp-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('trains on both ranks; rank 0 alone writes the run; the metrics hold the mean loss over ranks', async () => {
    const out = path.join(dir, 'plain');
    const r = await cli(['launch', '--standalone', '--nproc-per-node', '2', '--', ...pretrainArgs(out, 4)]);
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\[rank 1\] rank 1: trained 4 steps, final loss \d/);
    expect(r.stdout).toMatch(/\[rank 0\] trained: simclr .* 4 steps/);
    for (const f of ['checkpoint.pt', 'run.json', 'metrics.jsonl', 'backbone.pt']) expect(fs.existsSync(path.join(out, f))).toBe(true);
    expect([...losses(out).keys()]).toEqual([1, 2, 3, 4]);
    const info = JSON.parse(fs.readFileSync(path.join(out, 'run.json'), 'utf8')) as { worldSize: number; batchSize: number };
    expect(info.worldSize).toBe(2);
    expect(info.batchSize).toBe(16);
  });

  it('a worker killed with SIGKILL fails the job within 30 s with no orphans; the resumed run continues bit-identically', async () => {
    const steps = 40;
    const whole = path.join(dir, 'whole');
    expect((await cli(['launch', '--standalone', '--nproc-per-node', '2', '--', ...pretrainArgs(whole, steps)])).code).toBe(0);

    const cut = path.join(dir, 'cut');
    let killedAt = 0;
    let victim = 0;
    const r = await cli(['launch', '--standalone', '--nproc-per-node', '2', '--', ...pretrainArgs(cut, steps)], {
      poll: (child) => {
        // Once a checkpoint is on disk and training has gone past it, kill rank 1's worker outright.
        if (killedAt || !fs.existsSync(path.join(cut, 'metrics.jsonl')) || !fs.existsSync(path.join(cut, 'checkpoint.pt'))) return;
        if (!losses(cut).has(5)) return;
        const workers = childPids(child.pid!);
        if (workers.length < 2) return;
        victim = workers[workers.length - 1];
        killedAt = Date.now();
        process.kill(victim, 'SIGKILL');
      },
    });
    if (!killedAt) throw new Error(`the run ended before a worker could be killed: ${r.stdout}`);
    expect(r.code).toBe(1);
    expect(Date.now() - killedAt).toBeLessThan(30000);
    expect(r.stderr).toMatch(/rank \d \(pid \d+\) was killed by SIGKILL/);
    expect(await stillAlive([victim, ...r.pids], 5000)).toEqual([]);

    const resumed = await cli(['launch', '--standalone', '--nproc-per-node', '2', '--', ...pretrainArgs(cut, steps, ['--resume'])]);
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toMatch(/resumed at \d+/);
    const a = losses(whole);
    const b = losses(cut);
    expect([...b.keys()]).toEqual([...a.keys()]);
    for (const [step, loss] of a) expect([step, b.get(step)]).toEqual([step, loss]);
  });

  it('fails every rank naming the field when the ranks disagree (dataset size, config)', async () => {
    const port = String(await freePort());
    const runs = await Promise.all(
      [0, 1].map((r) =>
        cli([...pretrainArgs(path.join(dir, `disagree-${r}`), 4), '--subset', r === 0 ? '512' : '480', ...(r === 1 ? ['--lr', '0.2'] : [])], {
          env: { RANK: String(r), WORLD_SIZE: '2', MASTER_ADDR: '127.0.0.1', MASTER_PORT: port },
        }),
      ),
    );
    for (const run of runs) {
      expect(run.code).not.toBe(0);
      expect(run.stderr).toMatch(/distributed: the training configuration differs between ranks: (datasetSize is 512 on rank 0 but 480 on rank 1|model\.optimizer\.lr is [\d.]+ on rank 0 but 0\.2 on rank 1)/);
    }
  });

  it('with augment.perSample, a 2-rank run stopped by Ctrl-C continues on 1 process at the same global batch', async () => {
    // float64 and SyncBN: one process at 2B is then the same computation as 2 ranks at B.
    const exact = ['--set', 'augment.perSample=true', '--set', 'dtype=float64', '--sync-bn'];
    const whole = path.join(dir, 'reshard-whole');
    expect((await cli(['launch', '--standalone', '--nproc-per-node', '2', '--', ...pretrainArgs(whole, 8, exact)])).code).toBe(0);
    const cut = path.join(dir, 'reshard-cut');
    let stopped = false;
    const r = await cli(['launch', '--standalone', '--nproc-per-node', '2', '--', ...pretrainArgs(cut, 8, exact)], {
      poll: (child) => {
        if (stopped || !fs.existsSync(path.join(cut, 'metrics.jsonl')) || !losses(cut).has(3)) return;
        stopped = true;
        child.kill('SIGINT');
      },
    });
    expect(r.code).toBe(130);
    const at = Math.max(...losses(cut).keys());
    expect(at).toBeLessThan(8);
    const resumed = await cli(pretrainArgs(cut, 8, [...exact, '--resume'], 32));
    expect(resumed.stderr).toBe('');
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toContain(`resumed at ${at}`);
    const a = losses(whole);
    const b = losses(cut);
    expect([...b.keys()]).toEqual([...a.keys()]);
    for (const [step, loss] of a) expect(Math.abs(Number(b.get(step)) - Number(loss)) / Number(loss)).toBeLessThan(1e-9);
  });

  it('refuses to resume with another world size (without perSample), naming the setting', async () => {
    const out = path.join(dir, 'refuse');
    expect((await cli(['launch', '--standalone', '--nproc-per-node', '2', '--', ...pretrainArgs(out, 2)])).code).toBe(0);
    const r = await cli(pretrainArgs(out, 6, ['--resume']));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/different settings: .*worldSize/);
  });
});

// Two "hosts": network namespaces joined by a veth pair, rank 0 on 10.77.0.1, rank 1 on 10.77.0.2.
describe('data-parallel pretrain across two network namespaces', () => {
  const ns = ['mssl-dp-a', 'mssl-dp-b'];
  let reason = '';
  beforeAll(() => {
    const sh = (cmd: string) => spawnSync('sh', ['-c', cmd], { encoding: 'utf8' });
    const setup = [
      `ip netns add ${ns[0]}`,
      `ip netns add ${ns[1]}`,
      `ip link add mssl-veth-a type veth peer name mssl-veth-b`,
      `ip link set mssl-veth-a netns ${ns[0]}`,
      `ip link set mssl-veth-b netns ${ns[1]}`,
      `ip -n ${ns[0]} addr add 10.77.0.1/24 dev mssl-veth-a`,
      `ip -n ${ns[1]} addr add 10.77.0.2/24 dev mssl-veth-b`,
      `ip -n ${ns[0]} link set mssl-veth-a up`,
      `ip -n ${ns[1]} link set mssl-veth-b up`,
      `ip -n ${ns[0]} link set lo up`,
      `ip -n ${ns[1]} link set lo up`,
    ];
    for (const c of setup) {
      const r = sh(c);
      if (r.status !== 0) {
        reason = `cannot create network namespaces here (${c}: ${(r.stderr || r.error?.message || '').trim()})`;
        break;
      }
    }
    if (reason) {
      console.log(`skipped: ${reason}`);
      for (const n of ns) sh(`ip netns del ${n} 2>/dev/null`);
    }
  });
  afterAll(() => {
    for (const n of ns) spawnSync('ip', ['netns', 'del', n]);
  });

  it('trains 2 ranks on 2 hosts over the veth link', async () => {
    if (reason) return;
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'mssl-dp-ns-'));
    try {
      const port = String(await freePort());
      const runs = await Promise.all(
        [0, 1].map((r) =>
          cli(r === 0 ? pretrainArgs(path.join(out, 'run'), 3) : pretrainArgs(path.join(out, 'rank1'), 3), {
            wrap: ['ip', 'netns', 'exec', ns[r]],
            env: { RANK: String(r), WORLD_SIZE: '2', LOCAL_RANK: '0', LOCAL_WORLD_SIZE: '1', MASTER_ADDR: '10.77.0.1', MASTER_PORT: port },
          }),
        ),
      );
      for (const run of runs) {
        expect(run.stderr).not.toMatch(/error/i);
        expect(run.code).toBe(0);
      }
      expect([...losses(path.join(out, 'run')).keys()]).toEqual([1, 2, 3]);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });
});
