// The process launcher behind `momentum-ssl launch`: spawns one node's workers with the torchrun
// environment, prefixes their output per line, forwards signals, and stops them all together
// when one fails (fail-together, as torchrun does). Pure Node: no addon.
import { ChildProcess, spawn } from 'child_process';
import * as net from 'net';
import * as os from 'os';

export interface LaunchOptions {
  /** Program to run in each worker (spawned without a shell). */
  command: string;
  args?: string[];
  /** Workers on this node (torchrun's --nproc-per-node); an integer >= 1. */
  nprocPerNode: number;
  /** Nodes in the job (default 1). */
  nnodes?: number;
  /** This node's rank, 0 <= nodeRank < nnodes (default 0). */
  nodeRank?: number;
  /** Rendezvous host (default 127.0.0.1). */
  masterAddr?: string;
  /** Rendezvous port, 1..65535 (default 29500); 0 picks a free loopback port (one node only). */
  masterPort?: number;
  /** Rendezvous timeout in seconds, passed on as MOMENTUM_SSL_RDZV_TIMEOUT (unset: the workers' default). */
  rdzvTimeoutSeconds?: number;
  /** Seconds workers get to exit after SIGTERM/SIGINT before SIGKILL (default 10). */
  graceSeconds?: number;
  /** Base environment of the workers (default process.env); the launch variables go on top. */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Receive the workers' prefixed lines (default: this process's stdout / stderr). */
  stdout?: (s: string) => void;
  stderr?: (s: string) => void;
  /** The launcher's own notices (signals, escalation); default: stderr. */
  log?: (line: string) => void;
  /**
   * Forward SIGINT / SIGTERM / SIGHUP of this process to the workers while they run, and stop them
   * if this process's stdout or stderr breaks (EPIPE) (default true: the launcher is this process).
   */
  forwardSignals?: boolean;
  /** Aborting stops the workers as SIGTERM to the launcher would (exit code 143). */
  signal?: AbortSignal;
  /** Called once every worker has been spawned. */
  onSpawn?: (workers: readonly { rank: number; pid: number | undefined }[]) => void;
}

export interface WorkerExit {
  rank: number;
  localRank: number;
  pid: number | undefined;
  /** Exit status, or null when killed by a signal or never started. */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Why the worker could not be started (e.g. ENOENT). */
  spawnError?: string;
}

export interface LaunchResult {
  /** 0 all succeeded, 1 a worker failed, 128 + signal when interrupted (130 SIGINT, 143 SIGTERM, 141 output gone). */
  exitCode: number;
  workers: WorkerExit[];
  /** The first worker that failed, and one line that says so. */
  failure?: WorkerExit & { message: string };
  /** What interrupted the launch: a signal (abort counts as SIGTERM; SIGPIPE: stdout or stderr broke). */
  interrupted?: NodeJS.Signals;
  masterAddr: string;
  masterPort: number;
}

export const LAUNCH_DEFAULTS = Object.freeze({ masterAddr: '127.0.0.1', masterPort: 29500, graceSeconds: 10 });

/** Marker set in every worker's environment. */
export const LAUNCHED_ENV = 'MOMENTUM_SSL_LAUNCHED';

// A line longer than this is emitted in pieces, so a worker printing without newlines cannot
// grow the launcher's memory without bound.
const MAX_LINE = 1 << 20;
// After the last worker exits, how long its pipes may stay open (held by a grandchild) before
// the launcher stops reading them.
const DRAIN_MS = 1000;

function check(ok: boolean, name: string, expected: string, actual: unknown): void {
  if (!ok) throw new RangeError(`launch: ${name} must be ${expected}, got ${JSON.stringify(actual)}`);
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

/** A port nobody listens on now, found by binding port 0 on loopback (torchrun --standalone). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, host, () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** The torchrun environment of one worker. */
export function workerEnv(base: NodeJS.ProcessEnv, t: { rank: number; localRank: number; nprocPerNode: number; nnodes: number; nodeRank: number; masterAddr: string; masterPort: number; rdzvTimeoutSeconds?: number }): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...base,
    RANK: String(t.rank),
    WORLD_SIZE: String(t.nnodes * t.nprocPerNode),
    LOCAL_RANK: String(t.localRank),
    LOCAL_WORLD_SIZE: String(t.nprocPerNode),
    GROUP_RANK: String(t.nodeRank),
    GROUP_WORLD_SIZE: String(t.nnodes),
    MASTER_ADDR: t.masterAddr,
    MASTER_PORT: String(t.masterPort),
    [LAUNCHED_ENV]: '1',
  };
  // As torchrun: several workers each using every core would oversubscribe the machine.
  if (t.nprocPerNode > 1 && (base.OMP_NUM_THREADS === undefined || base.OMP_NUM_THREADS === '')) env.OMP_NUM_THREADS = '1';
  if (t.rdzvTimeoutSeconds !== undefined) env.MOMENTUM_SSL_RDZV_TIMEOUT = String(t.rdzvTimeoutSeconds);
  return env;
}

/** Splits a stream into lines and writes each whole, prefixed, in one call (no interleaving). */
class LinePrefixer {
  private pending = '';
  constructor(
    private readonly prefix: string,
    private readonly sink: (s: string) => void,
  ) {}
  push(chunk: string): void {
    let text = this.pending + chunk;
    let out = '';
    const last = text.lastIndexOf('\n');
    if (last >= 0) {
      for (const line of text.slice(0, last).split('\n')) out += this.prefix + line + '\n';
      text = text.slice(last + 1);
    }
    while (text.length >= MAX_LINE) {
      out += this.prefix + text.slice(0, MAX_LINE) + '\n';
      text = text.slice(MAX_LINE);
    }
    this.pending = text;
    if (out) this.sink(out);
  }
  /** The partial last line, terminated. */
  flush(): void {
    if (this.pending) this.sink(this.prefix + this.pending + '\n');
    this.pending = '';
  }
}

interface Worker {
  rank: number;
  localRank: number;
  child: ChildProcess;
  ended: boolean;
  code: number | null;
  signal: NodeJS.Signals | null;
  spawnError?: string;
  streamsClosed: boolean;
  out: LinePrefixer;
  err: LinePrefixer;
}

function spawnErrorText(command: string, e: NodeJS.ErrnoException): string {
  const why = e.code === 'ENOENT' ? 'no such program on PATH or file' : e.code === 'EACCES' ? 'permission denied (not an executable?)' : e.message;
  return `could not start '${command}': ${why}${e.code ? ` (${e.code})` : ''}`;
}

function describeEnd(w: WorkerExit): string {
  const who = `rank ${w.rank}${w.pid !== undefined ? ` (pid ${w.pid})` : ''}`;
  if (w.spawnError !== undefined) return `${who} ${w.spawnError}`;
  if (w.signal) return `${who} was killed by ${w.signal}`;
  return `${who} exited with status ${w.code}`;
}

/**
 * Runs `command args` as `nprocPerNode` workers of node `nodeRank`, each with RANK, WORLD_SIZE,
 * LOCAL_RANK, LOCAL_WORLD_SIZE, GROUP_RANK, GROUP_WORLD_SIZE, MASTER_ADDR, MASTER_PORT and
 * MOMENTUM_SSL_LAUNCHED=1 (and OMP_NUM_THREADS=1 unless set, when nprocPerNode > 1).
 *
 * Fault semantics: the first worker to exit non-zero, die by a signal or fail to start stops
 * the others (SIGTERM, SIGKILL after `graceSeconds`) and makes the result exit code 1 with
 * `failure` naming it. A forwarded signal (or `signal` aborting) stops them the same way, exit
 * code 128 + signal. The promise resolves once no worker is left; it rejects only for bad options.
 *
 * Each worker is its own process group (POSIX), so signals reach what it spawned and a terminal's
 * Ctrl-C reaches the workers once, through the launcher. Its stdin is a pipe the launcher never
 * writes: it ends when the launcher dies, however it dies (see `watchLauncher`).
 *
 * @example
 *   const r = await launch({ command: process.execPath, args: ['train.js'], nprocPerNode: 2 });
 *   process.exitCode = r.exitCode;
 * @throws RangeError for an option out of range (naming it).
 */
export async function launch(o: LaunchOptions): Promise<LaunchResult> {
  const nnodes = o.nnodes ?? 1;
  const nodeRank = o.nodeRank ?? 0;
  const graceSeconds = o.graceSeconds ?? LAUNCH_DEFAULTS.graceSeconds;
  check(typeof o.command === 'string' && o.command !== '', 'command', 'a non-empty string', o.command);
  check(isInt(o.nprocPerNode) && o.nprocPerNode >= 1, 'nprocPerNode', 'an integer >= 1', o.nprocPerNode);
  check(isInt(nnodes) && nnodes >= 1, 'nnodes', 'an integer >= 1', nnodes);
  check(isInt(nodeRank) && nodeRank >= 0 && nodeRank < nnodes, 'nodeRank', `an integer in 0..${nnodes - 1}`, nodeRank);
  check(o.masterPort === undefined || (isInt(o.masterPort) && o.masterPort >= 0 && o.masterPort <= 65535), 'masterPort', 'an integer in 1..65535 (0: a free port)', o.masterPort);
  check(!(o.masterPort === 0 && nnodes > 1), 'masterPort', 'given when nnodes > 1 (a free port is found on one node only)', o.masterPort);
  check(typeof graceSeconds === 'number' && graceSeconds >= 0 && Number.isFinite(graceSeconds), 'graceSeconds', 'a number >= 0', graceSeconds);
  check(o.rdzvTimeoutSeconds === undefined || (typeof o.rdzvTimeoutSeconds === 'number' && o.rdzvTimeoutSeconds > 0 && Number.isFinite(o.rdzvTimeoutSeconds)), 'rdzvTimeoutSeconds', 'a number > 0', o.rdzvTimeoutSeconds);

  const masterAddr = o.masterAddr ?? LAUNCH_DEFAULTS.masterAddr;
  const masterPort = o.masterPort === 0 ? await freePort(masterAddr) : (o.masterPort ?? LAUNCH_DEFAULTS.masterPort);
  const stdoutSink = o.stdout ?? ((s: string) => void process.stdout.write(s));
  const stderrSink = o.stderr ?? ((s: string) => void process.stderr.write(s));
  const log = o.log ?? ((line: string) => void process.stderr.write(line + '\n'));
  const groups = process.platform !== 'win32';
  const base = o.env ?? process.env;

  const workers: Worker[] = [];
  let failure: (WorkerExit & { message: string }) | undefined;
  let failureLive = 0;
  let interrupted: NodeJS.Signals | undefined;
  let stopping = false;
  let killTimer: NodeJS.Timeout | undefined;
  let drainTimer: NodeJS.Timeout | undefined;
  let killedAfterGrace = 0;
  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));

  // Running workers (a worker whose spawn is failing has no pid and nothing to stop).
  const live = () => workers.filter((w) => !w.ended && w.child.pid !== undefined);
  const send = (w: Worker, sig: NodeJS.Signals) => {
    const pid = w.child.pid;
    if (pid === undefined || w.ended) return;
    try {
      // The whole group: a worker that is a wrapper (a shell, npx) passes nothing on by itself.
      process.kill(groups ? -pid : pid, sig);
    } catch {
      try {
        w.child.kill(sig);
      } catch {
        /* already gone */
      }
    }
  };
  const stop = (sig: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    for (const w of live()) send(w, sig);
    killTimer = setTimeout(() => {
      const left = live();
      killedAfterGrace = left.length;
      if (left.length > 0) log(`momentum-ssl launch: ${left.length} worker(s) still running ${graceSeconds} s after ${sig}: SIGKILL`);
      for (const w of left) send(w, 'SIGKILL');
    }, graceSeconds * 1000);
  };
  const killNow = () => {
    for (const w of live()) send(w, 'SIGKILL');
  };

  const settle = () => {
    if (workers.length < o.nprocPerNode || workers.some((w) => !w.ended)) return;
    if (workers.every((w) => w.streamsClosed)) finish();
    else drainTimer ??= setTimeout(finish, DRAIN_MS);
  };
  const ended = (w: Worker) => {
    const exit: WorkerExit = { rank: w.rank, localRank: w.localRank, pid: w.child.pid, code: w.code, signal: w.signal, spawnError: w.spawnError };
    const failed = w.spawnError !== undefined || w.signal !== null || w.code !== 0;
    // The first failure is the one reported; exits caused by our own stopping are not failures.
    if (failed && !failure && !stopping) {
      failureLive = live().length;
      failure = { ...exit, message: describeEnd(exit) };
      stop('SIGTERM');
    }
    settle();
  };

  const onSignal = (sig: NodeJS.Signals) => {
    if (stopping) {
      // A second signal (or one during a failure's grace period): no more waiting.
      log(`momentum-ssl launch: ${sig} ${interrupted ? 'again' : 'while stopping'}: SIGKILL to ${live().length} worker(s)`);
      killNow();
      return;
    }
    interrupted = sig;
    // SIGHUP would kill a worker outright; SIGTERM lets it finish cleanly, as for a hangup of torchrun.
    const forward = sig === 'SIGHUP' ? 'SIGTERM' : sig;
    log(`momentum-ssl launch: ${sig}: ${forward} to ${live().length} worker(s), SIGKILL after ${graceSeconds} s (${sig} again: at once)`);
    stop(forward);
  };
  const signals: NodeJS.Signals[] = o.forwardSignals === false ? [] : ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const s of signals) process.on(s, onSignal);
  // Whoever read our output has gone (`launch ... | head`): as in a shell pipeline, the job ends,
  // its workers stopped as on SIGTERM (exit 141). The listener also keeps the EPIPE from crashing
  // the launcher, which would leave the workers running.
  const onOutputError = () => {
    if (stopping) return;
    interrupted = 'SIGPIPE';
    stop('SIGTERM');
  };
  const outputs = o.forwardSignals === false ? [] : [process.stdout, process.stderr];
  for (const s of outputs) s.on('error', onOutputError);
  // The launcher exiting mid-run by any path of its own (an uncaught exception, process.exit):
  // nothing can be awaited any more, so SIGKILL, and no worker outlives it.
  const onExit = () => {
    for (const w of live()) send(w, 'SIGKILL');
  };
  process.on('exit', onExit);
  const onAbort = () => onSignal('SIGTERM');
  if (o.signal?.aborted) interrupted = 'SIGTERM';
  o.signal?.addEventListener('abort', onAbort, { once: true });

  try {
    if (!interrupted) {
      for (let localRank = 0; localRank < o.nprocPerNode; localRank++) {
        const rank = nodeRank * o.nprocPerNode + localRank;
        const env = workerEnv(base, { rank, localRank, nprocPerNode: o.nprocPerNode, nnodes, nodeRank, masterAddr, masterPort, rdzvTimeoutSeconds: o.rdzvTimeoutSeconds });
        const child = spawn(o.command, o.args ?? [], { env, cwd: o.cwd, stdio: ['pipe', 'pipe', 'pipe'], detached: groups, windowsHide: true });
        const w: Worker = {
          rank,
          localRank,
          child,
          ended: false,
          code: null,
          signal: null,
          streamsClosed: false,
          out: new LinePrefixer(`[rank ${rank}] `, stdoutSink),
          err: new LinePrefixer(`[rank ${rank}] `, stderrSink),
        };
        workers.push(w);
        // Never written: the pipe's end tells the worker the launcher is gone. An EPIPE on it
        // (worker closed its stdin) is of no interest.
        child.stdin?.on('error', () => {});
        child.stdout?.setEncoding('utf8').on('data', (s: string) => w.out.push(s));
        child.stderr?.setEncoding('utf8').on('data', (s: string) => w.err.push(s));
        child.on('exit', (code, signal) => {
          if (w.ended) return;
          w.ended = true;
          w.code = code;
          w.signal = signal;
          ended(w);
        });
        child.on('error', (e: NodeJS.ErrnoException) => {
          // Only a failed spawn ends a worker here (kill errors are handled in send).
          if (w.ended || child.pid !== undefined) return;
          w.ended = true;
          w.spawnError = spawnErrorText(o.command, e);
          ended(w);
        });
        child.on('close', () => {
          w.streamsClosed = true;
          settle();
        });
      }
      o.onSpawn?.(workers.map((w) => ({ rank: w.rank, pid: w.child.pid })));
      settle();
      await done;
    }
  } finally {
    for (const s of signals) process.off(s, onSignal);
    for (const s of outputs) s.off('error', onOutputError);
    process.off('exit', onExit);
    o.signal?.removeEventListener('abort', onAbort);
    if (killTimer) clearTimeout(killTimer);
    if (drainTimer) clearTimeout(drainTimer);
    // Should the spawn loop itself have thrown, nothing it started may outlive the launch.
    killNow();
    // A stopped job leaves nothing behind: what a worker spawned (and did not move to a group
    // of its own) goes with it, even if it ignored SIGTERM and the worker has exited.
    if (stopping && groups) {
      for (const w of workers) {
        try {
          if (w.child.pid !== undefined) process.kill(-w.child.pid, 'SIGKILL');
        } catch {
          /* the group is empty: the usual case */
        }
      }
    }
    for (const w of workers) {
      w.child.stdout?.destroy();
      w.child.stderr?.destroy();
      w.child.stdin?.destroy();
      w.out.flush();
      w.err.flush();
    }
  }

  const exits: WorkerExit[] = workers.map((w) => ({ rank: w.rank, localRank: w.localRank, pid: w.child.pid, code: w.code, signal: w.signal, spawnError: w.spawnError }));
  if (failure && failureLive > 0) {
    failure.message += `; stopped the other ${failureLive} worker(s)${killedAfterGrace > 0 ? ` (${killedAfterGrace} with SIGKILL after ${graceSeconds} s)` : ''}`;
  }
  const signo = interrupted ? (os.constants.signals[interrupted] ?? 15) : 0;
  return { exitCode: failure ? 1 : interrupted ? 128 + signo : 0, workers: exits, failure, interrupted, masterAddr, masterPort };
}

/**
 * In a launched worker, calls `onGone` when the launcher dies (its stdin pipe ends), so a
 * worker never outlives a launcher killed with SIGKILL. Does not keep the process alive; a no-op
 * outside `launch` or when stdin is a terminal. Returns whether it is watching.
 */
export function watchLauncher(onGone: () => void): boolean {
  if (process.env[LAUNCHED_ENV] !== '1' || process.stdin.isTTY) return false;
  const stdin = process.stdin as NodeJS.ReadStream & { unref?: () => void };
  let called = false;
  const gone = () => {
    if (called) return;
    called = true;
    onGone();
  };
  stdin.on('end', gone);
  stdin.on('error', gone);
  stdin.resume();
  stdin.unref?.();
  return true;
}
