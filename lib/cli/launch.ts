// `momentum-ssl launch`: a torchrun-style launcher — N workers on this node with the torchrun
// environment, output prefixed per rank, fail-together (lib/distributed/launcher.ts does the work).
import * as path from 'path';

import { launch, LAUNCH_DEFAULTS, LaunchOptions } from '../distributed/launcher';
import { Command, UsageError, Values } from './command';

/** How a worker runs this CLI: the same entry point, from dist/ (node) or lib/ (ts-node). */
function cliInvocation(): string[] {
  const ext = path.extname(__filename);
  const entry = path.join(__dirname, `index${ext}`);
  return ext === '.ts' ? ['-r', require.resolve('ts-node/register/transpile-only'), entry] : [entry];
}

// The generic parser has made ints integers >= 0 and numbers finite; these add the ranges.
function int(v: Values, key: string, flag: string, lo: number, hi = Infinity): number | undefined {
  const x = v[key];
  if (x === undefined) return undefined;
  if (typeof x !== 'number' || !Number.isInteger(x) || x < lo || x > hi) {
    throw new UsageError(`--${flag} must be an integer ${hi === Infinity ? `>= ${lo}` : `in ${lo}..${hi}`}, got ${JSON.stringify(x)}`);
  }
  return x;
}

function seconds(v: Values, key: string, flag: string, zeroOk: boolean): number | undefined {
  const x = v[key];
  if (x === undefined) return undefined;
  if (typeof x !== 'number' || !(zeroOk ? x >= 0 : x > 0)) throw new UsageError(`--${flag} must be a number ${zeroOk ? '>= 0' : '> 0'}, got ${JSON.stringify(x)}`);
  return x;
}

/** The launch options of a parsed command line; usage errors name the flag and its value. */
export async function launchPlan(v: Values, rest: string[] | undefined): Promise<LaunchOptions> {
  if (v.nprocPerNode === undefined) throw new UsageError('--nproc-per-node is required (workers on this node, e.g. one per device)');
  const nprocPerNode = int(v, 'nprocPerNode', 'nproc-per-node', 1)!;
  const standalone = v.standalone === true;
  const nnodes = int(v, 'nnodes', 'nnodes', 1) ?? 1;
  const nodeRank = int(v, 'nodeRank', 'node-rank', 0, nnodes - 1) ?? 0;
  const masterPort = int(v, 'masterPort', 'master-port', 1, 65535);
  const masterAddr = v.masterAddr as string | undefined;
  if (standalone) {
    for (const [given, flag] of [[nnodes > 1, `--nnodes ${nnodes}`], [masterAddr !== undefined, `--master-addr ${masterAddr}`], [masterPort !== undefined, `--master-port ${masterPort}`]] as const) {
      if (given) throw new UsageError(`--standalone is one node on loopback with a free port; it conflicts with ${flag}`);
    }
  } else if (nnodes > 1) {
    if (masterAddr === undefined) throw new UsageError(`--master-addr is required with --nnodes ${nnodes} (the host of node 0, reachable from every node)`);
    if (masterPort === undefined) throw new UsageError(`--master-port is required with --nnodes ${nnodes} (a free port on the host of node 0)`);
  }
  if (rest === undefined || rest.length === 0) throw new UsageError('missing the command to launch after -- (e.g. -- pretrain --steps 100, or -- node train.js)');
  const { COMMANDS } = await import('./index'); // lazily: index imports this file
  const [first, ...args] = rest;
  if (first === 'launch') throw new UsageError('the command after -- cannot be launch itself');
  const own = Object.prototype.hasOwnProperty.call(COMMANDS, first);
  return {
    command: own ? process.execPath : first,
    args: own ? [...cliInvocation(), first, ...args] : args,
    nprocPerNode,
    nnodes,
    nodeRank,
    masterAddr: standalone ? '127.0.0.1' : (masterAddr ?? LAUNCH_DEFAULTS.masterAddr),
    masterPort: standalone ? 0 : (masterPort ?? LAUNCH_DEFAULTS.masterPort),
    rdzvTimeoutSeconds: seconds(v, 'rdzvTimeout', 'rdzv-timeout', false),
    graceSeconds: seconds(v, 'graceSeconds', 'grace-seconds', true) ?? LAUNCH_DEFAULTS.graceSeconds,
  };
}

export const launchCommand: Command = {
  name: 'launch',
  summary: 'run a command as N data-parallel workers on this node (torchrun-style), output prefixed per rank, stopped together',
  usage: 'momentum-ssl launch [--standalone] --nproc-per-node N [--nnodes M --node-rank R --master-addr A --master-port P] [--rdzv-timeout S] -- <command> [flags]',
  acceptsRest: true,
  fewGlobals: true,
  options: [
    { name: 'nproc-per-node', kind: 'int', arg: 'N', desc: 'workers on this node (one per device; on CPU, a few)' },
    { name: 'standalone', kind: 'boolean', desc: 'one node on loopback: MASTER_ADDR 127.0.0.1 and a free port (not with --nnodes > 1, --master-addr, --master-port)' },
    { name: 'nnodes', kind: 'int', arg: 'M', desc: 'nodes in the job (default 1)' },
    { name: 'node-rank', kind: 'int', arg: 'R', desc: 'this node, 0..M-1 (default 0)' },
    { name: 'master-addr', kind: 'string', arg: 'A', desc: `host of node 0, where rank 0 serves the rendezvous (default ${LAUNCH_DEFAULTS.masterAddr}; required with --nnodes > 1)` },
    { name: 'master-port', kind: 'int', arg: 'P', desc: `its port, 1..65535 (default ${LAUNCH_DEFAULTS.masterPort}; required with --nnodes > 1)` },
    { name: 'rdzv-timeout', kind: 'number', arg: 'S', desc: "seconds workers wait for the others at the rendezvous, passed as MOMENTUM_SSL_RDZV_TIMEOUT (default: the workers')" },
    { name: 'grace-seconds', kind: 'number', arg: 'S', desc: `seconds stopped workers get between SIGTERM and SIGKILL (default ${LAUNCH_DEFAULTS.graceSeconds})` },
  ],
  help: [
    'After --: a momentum-ssl command (pretrain, ...) runs as this CLI in each worker; anything else is a',
    'program and its arguments (e.g. -- node train.js), run without a shell.',
    '',
    'Each worker gets RANK (node_rank*N + local rank), WORLD_SIZE (M*N), LOCAL_RANK, LOCAL_WORLD_SIZE (N),',
    'GROUP_RANK (node rank), GROUP_WORLD_SIZE (M), MASTER_ADDR, MASTER_PORT and MOMENTUM_SSL_LAUNCHED=1.',
    'With N > 1 it also gets OMP_NUM_THREADS=1 unless that is set already, as torchrun does, so N workers do',
    'not each use every core; set OMP_NUM_THREADS (or pass --threads to the command) to give each more.',
    'Several nodes: run the same command on every node, with the same --nnodes, --master-addr and',
    '--master-port, and --node-rank 0 on the host of --master-addr.',
    '',
    "Output: each worker's stdout and stderr lines are prefixed `[rank R] ` (stdout to stdout, stderr to",
    'stderr), whole lines at a time; if the reader of them goes away (`| head`), the job is stopped as on',
    'SIGTERM (exit 141). Stdin of a worker is an empty pipe held by the launcher: it ends when the launcher',
    'dies, and momentum-ssl commands then stop as on SIGTERM.',
    '',
    'Faults: the first worker to exit non-zero, die by a signal or fail to start stops the others (SIGTERM,',
    'then SIGKILL after --grace-seconds); the launcher exits 1 with one line naming that rank, its pid and',
    'its status or signal. SIGINT / SIGTERM to the launcher are forwarded to every worker (SIGHUP as SIGTERM),',
    'with the same SIGKILL after the grace period; a second signal SIGKILLs at once; exit 130 / 143',
    '(pretrain workers write a checkpoint first). All workers exit 0: exit 0. Each worker is a process group of',
    'its own: signals reach what it started, and a stopped job leaves nothing running behind it.',
  ],
  examples: [
    'momentum-ssl launch --standalone --nproc-per-node 4 -- pretrain --method simclr --steps 1000 --out run',
    'momentum-ssl launch --nproc-per-node 2 --nnodes 2 --node-rank 0 --master-addr 10.0.0.1 --master-port 29500 -- pretrain --config run.yaml',
    'momentum-ssl launch --nproc-per-node 2 -- node train.js --epochs 3',
  ],
  async run(p, io) {
    const plan = await launchPlan(p.values, p.rest);
    const result = await launch({ ...plan, stdout: io.out, stderr: io.err, log: (line) => io.err(line + '\n') });
    if (result.failure) io.err(`momentum-ssl launch: error: ${result.failure.message}\n`);
    return result.exitCode;
  },
};
