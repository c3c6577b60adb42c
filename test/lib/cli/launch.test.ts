// `momentum-ssl launch`: usage errors and help in-process; signals to the launcher, a launcher
// killed outright, and CLI commands as workers with the CLI run as a child process (ts-node).
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

import { main } from '../../../lib/cli';
import { launchPlan } from '../../../lib/cli/launch';
import { repoRoot } from '../../helpers/child';
import { alive, stillAlive } from '../../helpers/pids';

jest.setTimeout(30000);

const CLI = path.join(repoRoot, 'lib', 'cli', 'index.ts');
const TS_NODE = require.resolve('ts-node/register/transpile-only');

async function run(args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await main(args, { out: (s) => (stdout += s), err: (s) => (stderr += s) });
  return { code, stdout, stderr };
}

/** The CLI as a child process; `until` lets the test act on its output (e.g. signal it). */
function cliChild(args: string[], until?: (stdout: string, child: ReturnType<typeof spawn>) => void, timeoutMs = 25000) {
  return new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, ['-r', TS_NODE, CLI, ...args], {
      cwd: repoRoot,
      env: { ...process.env, TS_NODE_PROJECT: path.join(repoRoot, 'tsconfig.json') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`launcher did not exit within ${timeoutMs} ms; stdout: ${stdout}; stderr: ${stderr}`));
    }, timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      stdout += s;
      until?.(stdout, child);
    });
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Worker pids from `[rank R] pid N` lines. */
const pidsOf = (stdout: string) => [...stdout.matchAll(/^\[rank \d+\] pid (\d+)$/gm)].map((m) => Number(m[1]));

describe('momentum-ssl launch', () => {
  test('help: the flags, the environment, OMP_NUM_THREADS and the fault semantics', async () => {
    const r = await run(['launch', '--help']);
    expect(r.code).toBe(0);
    for (const f of ['--standalone', '--nproc-per-node N', '--nnodes M', '--node-rank R', '--master-addr A', '--master-port P', '--rdzv-timeout S', '--grace-seconds S', '--verbose', '--help']) expect(r.stdout).toContain(f);
    expect(r.stdout).not.toContain('--config FILE');
    expect(r.stdout).not.toContain('--threads N');
    expect(r.stdout).toMatch(/OMP_NUM_THREADS=1 unless/);
    expect(r.stdout).toMatch(/first worker to exit non-zero, die by a signal or fail to start stops the others/);
    expect(r.stdout).toMatch(/exit 130 \/ 143/);
    const all = await run(['--help']);
    expect(all.stdout).toMatch(/^ {2}launch +run a command as N data-parallel workers/m);
  });

  test.each([
    [[], /--nproc-per-node is required/],
    [['--nproc-per-node', '0'], /--nproc-per-node must be an integer >= 1, got 0/],
    [['--nproc-per-node', 'two'], /--nproc-per-node must be an integer >= 0, got "two"/],
    [['--nproc-per-node', '2', '--nnodes', '0'], /--nnodes must be an integer >= 1, got 0/],
    [['--nproc-per-node', '2', '--nnodes', '2', '--node-rank', '2', '--master-addr', 'h', '--master-port', '1'], /--node-rank must be an integer in 0\.\.1, got 2/],
    [['--nproc-per-node', '2', '--node-rank', '1'], /--node-rank must be an integer in 0\.\.0, got 1/],
    [['--nproc-per-node', '2', '--master-port', '70000'], /--master-port must be an integer in 1\.\.65535, got 70000/],
    [['--nproc-per-node', '2', '--master-port', '0'], /--master-port must be an integer in 1\.\.65535, got 0/],
    [['--nproc-per-node', '2', '--nnodes', '2', '--node-rank', '0', '--master-port', '1234'], /--master-addr is required with --nnodes 2/],
    [['--nproc-per-node', '2', '--nnodes', '2', '--master-addr', 'h'], /--master-port is required with --nnodes 2/],
    [['--standalone', '--nproc-per-node', '2', '--nnodes', '2'], /--standalone .* conflicts with --nnodes 2/],
    [['--standalone', '--nproc-per-node', '2', '--master-addr', '10.0.0.1'], /--standalone .* conflicts with --master-addr 10\.0\.0\.1/],
    [['--standalone', '--nproc-per-node', '2', '--master-port', '29501'], /--standalone .* conflicts with --master-port 29501/],
    [['--nproc-per-node', '2', '--grace-seconds', '-1'], /--grace-seconds/],
    [['--nproc-per-node', '2', '--rdzv-timeout', '0'], /--rdzv-timeout must be a number > 0, got 0/],
    [['--nproc-per-node', '2', '--threads', '2'], /Unknown option '--threads'/],
  ])('usage error: %j', async (args, message) => {
    const r = await run(['launch', ...args, '--', 'node', '-e', '']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toMatch(/^momentum-ssl launch: error: .*\(see momentum-ssl launch --help\)\n$/);
  });

  test('usage error: no command after --, or no -- at all', async () => {
    for (const args of [['--nproc-per-node', '2', '--'], ['--nproc-per-node', '2']]) {
      const r = await run(['launch', ...args]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/missing the command to launch after --/);
    }
    const r = await run(['launch', '--nproc-per-node', '2', '--', 'launch', '--nproc-per-node', '1', '--', 'info']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cannot be launch itself/);
  });

  test('a momentum-ssl command runs as this CLI; anything else as a program; flags after -- are left alone', async () => {
    const cmd = await launchPlan({ nprocPerNode: 2 }, ['pretrain', '--steps', '5', '--help']);
    expect(cmd.command).toBe(process.execPath);
    expect(cmd.args).toEqual(['-r', TS_NODE, CLI, 'pretrain', '--steps', '5', '--help']);
    const prog = await launchPlan({ nprocPerNode: 2 }, ['python3', 'train.py', '--epochs', '3']);
    expect(prog).toMatchObject({ command: 'python3', args: ['train.py', '--epochs', '3'], masterAddr: '127.0.0.1', masterPort: 29500, graceSeconds: 10 });
    expect((await launchPlan({ nprocPerNode: 1, standalone: true }, ['x'])).masterPort).toBe(0);
    // End to end: two CLI workers print the demo's help (no addon needed), prefixed per rank.
    const r = await run(['launch', '--nproc-per-node', '2', '--', 'demo', '--help']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    for (const rank of [0, 1]) {
      expect(r.stdout).toMatch(new RegExp(`^\\[rank ${rank}\\] momentum-ssl demo: the main job`, 'm'));
      expect(r.stdout).toMatch(new RegExp(`^\\[rank ${rank}\\] Usage: momentum-ssl demo`, 'm'));
    }
  });

  test('--nnodes 2 --node-rank 1: the environment of ranks 2 and 3', async () => {
    const code = `console.log([process.env.RANK, process.env.WORLD_SIZE, process.env.LOCAL_RANK, process.env.LOCAL_WORLD_SIZE, process.env.GROUP_RANK, process.env.MASTER_ADDR, process.env.MASTER_PORT, process.env.MOMENTUM_SSL_RDZV_TIMEOUT].join(' '))`;
    const r = await run(['launch', '--nproc-per-node', '2', '--nnodes', '2', '--node-rank', '1', '--master-addr', '10.0.0.7', '--master-port', '29511', '--rdzv-timeout', '60', '--', process.execPath, '-e', code]);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n').filter(Boolean).sort()).toEqual(['[rank 2] 2 4 0 2 1 10.0.0.7 29511 60', '[rank 3] 3 4 1 2 1 10.0.0.7 29511 60']);
  });

  test('--standalone: loopback and a port the worker can bind', async () => {
    const code = `const s = require('net').createServer(); s.on('error', (e) => { console.log(e.code); process.exit(1); }); s.listen(Number(process.env.MASTER_PORT), process.env.MASTER_ADDR, () => { console.log('bound ' + process.env.MASTER_ADDR + ':' + process.env.MASTER_PORT); s.close(); });`;
    const r = await run(['launch', '--standalone', '--nproc-per-node', '1', '--', process.execPath, '-e', code]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^\[rank 0\] bound 127\.0\.0\.1:\d+\n$/);
    expect(r.stdout).not.toContain(':29500');
  });

  test('a program that does not exist: exit 1, one line naming it', async () => {
    const r = await run(['launch', '--nproc-per-node', '2', '--', 'momentum-ssl-no-such-program', '--flag']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("momentum-ssl launch: error: rank 0 could not start 'momentum-ssl-no-such-program': no such program on PATH or file (ENOENT)\n");
  });

  test('a worker exiting 3: exit 1, one line naming the rank, its pid and status 3', async () => {
    const code = `console.log('pid ' + process.pid); process.env.RANK === '1' ? setTimeout(() => process.exit(3), 300) : setTimeout(() => {}, 60000);`;
    const r = await run(['launch', '--nproc-per-node', '2', '--', process.execPath, '-e', code]);
    expect(r.code).toBe(1);
    const pids = pidsOf(r.stdout);
    expect(pids).toHaveLength(2);
    expect(r.stderr).toMatch(/^momentum-ssl launch: error: rank 1 \(pid \d+\) exited with status 3; stopped the other 1 worker\(s\)\n$/);
    expect(await stillAlive(pids)).toEqual([]);
  });

  // Workers say `pid N` then `ready` once their SIGTERM/SIGINT handlers are in place.
  const HANDLES = `for (const s of ['SIGTERM', 'SIGINT']) process.on(s, () => { console.log('got ' + s); process.exit(s === 'SIGTERM' ? 143 : 130); }); console.log('pid ' + process.pid); console.log('ready'); setInterval(() => {}, 1000);`;
  const bothReady = (sig: NodeJS.Signals) => {
    let sent = false;
    return (stdout: string, child: ReturnType<typeof spawn>) => {
      if (!sent && (stdout.match(/\] ready$/gm) ?? []).length === 2) {
        sent = true;
        child.kill(sig);
      }
    };
  };

  test.each([
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const)('%s to the launcher is forwarded to every worker; exit %i', async (sig, exit) => {
    const r = await cliChild(['launch', '--nproc-per-node', '2', '--', process.execPath, '-e', HANDLES], bothReady(sig));
    expect(r.code).toBe(exit);
    expect(r.stdout).toContain(`[rank 0] got ${sig}`);
    expect(r.stdout).toContain(`[rank 1] got ${sig}`);
    expect(r.stderr).toMatch(new RegExp(`^momentum-ssl launch: ${sig}: ${sig} to 2 worker\\(s\\), SIGKILL after 10 s`));
    expect(await stillAlive(pidsOf(r.stdout))).toEqual([]);
  });

  test('a worker ignoring SIGTERM gets SIGKILL after --grace-seconds; the launcher still exits 143', async () => {
    const code = `process.on('SIGTERM', () => console.log('ignoring SIGTERM')); console.log('pid ' + process.pid); console.log('ready'); setInterval(() => {}, 1000);`;
    const t0 = Date.now();
    const r = await cliChild(['launch', '--nproc-per-node', '2', '--grace-seconds', '0.5', '--', process.execPath, '-e', code], bothReady('SIGTERM'));
    expect(r.code).toBe(143);
    expect(r.stdout).toContain('[rank 0] ignoring SIGTERM');
    expect(r.stderr).toMatch(/2 worker\(s\) still running 0\.5 s after SIGTERM: SIGKILL/);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(500);
    expect(await stillAlive(pidsOf(r.stdout))).toEqual([]);
  });

  test('a second signal SIGKILLs at once, without waiting out the grace period', async () => {
    const code = `process.on('SIGTERM', () => console.log('ignoring SIGTERM')); console.log('pid ' + process.pid); console.log('ready'); setInterval(() => {}, 1000);`;
    let sent = 0;
    const t0 = Date.now();
    const r = await cliChild(['launch', '--nproc-per-node', '2', '--grace-seconds', '60', '--', process.execPath, '-e', code], (stdout, child) => {
      // The second SIGTERM once both workers have shown they ignore the first.
      const count = (re: RegExp) => (stdout.match(re) ?? []).length;
      if (sent === 0 && count(/\] ready$/gm) === 2) {
        sent = 1;
        child.kill('SIGTERM');
      }
      if (sent === 1 && count(/\] ignoring SIGTERM$/gm) === 2) {
        sent = 2;
        child.kill('SIGTERM');
      }
    });
    expect(r.code).toBe(143);
    expect(sent).toBe(2);
    expect(r.stderr).toMatch(/SIGTERM again: SIGKILL to 2 worker\(s\)/);
    expect(Date.now() - t0).toBeLessThan(20000);
    expect(await stillAlive(pidsOf(r.stdout))).toEqual([]);
  });

  test('the reader of its output gone (EPIPE, as with | head): the workers are stopped, exit 141', async () => {
    const code = `process.on('SIGTERM', () => { process.stderr.write('got SIGTERM\\n'); process.exit(143); }); console.log('pid ' + process.pid); setInterval(() => console.log('tick'), 20);`;
    let pids: number[] = [];
    let closed = false;
    const r = await cliChild(['launch', '--nproc-per-node', '2', '--', process.execPath, '-e', code], (stdout, child) => {
      pids = pidsOf(stdout);
      if (!closed && pids.length === 2) {
        closed = true;
        child.stdout!.destroy();
      }
    });
    expect(r.code).toBe(141);
    expect(r.stderr).toContain('[rank 0] got SIGTERM');
    expect(r.stderr).toContain('[rank 1] got SIGTERM');
    expect(await stillAlive(pids)).toEqual([]);
  });

  test('a launcher killed outright (SIGKILL): its workers see their stdin end and stop', async () => {
    const lib = JSON.stringify(path.join(repoRoot, 'lib', 'distributed', 'launcher'));
    const code = `require(${JSON.stringify(TS_NODE)}); const w = require(${lib}).watchLauncher(() => process.exit(0)); console.log('pid ' + process.pid); console.log(w ? 'ready' : 'not watching'); setInterval(() => {}, 1000);`;
    let pids: number[] = [];
    const kill = bothReady('SIGKILL');
    const r = await cliChild(['launch', '--nproc-per-node', '2', '--', process.execPath, '-e', code], (stdout, child) => {
      pids = pidsOf(stdout);
      kill(stdout, child);
    });
    expect(r.signal).toBe('SIGKILL');
    expect(pids).toHaveLength(2);
    expect(await stillAlive(pids, 5000)).toEqual([]);
    expect(pids.some(alive)).toBe(false);
  });
});

// The README's launch examples name the flags the command has.
test('README.md launch examples use only real flags', () => {
  const text = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
  const flags = new Set([...text.matchAll(/momentum-ssl launch ([^\n`]*?) -- /g)].flatMap((m) => [...m[1].matchAll(/--([a-z-]+)/g)].map((g) => g[1])));
  expect(flags.size).toBeGreaterThan(3);
  const known = ['standalone', 'nproc-per-node', 'nnodes', 'node-rank', 'master-addr', 'master-port', 'rdzv-timeout', 'grace-seconds'];
  for (const f of flags) expect(known).toContain(f);
});
