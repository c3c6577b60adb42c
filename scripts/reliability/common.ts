// Shared pieces of the reliability suite: the tiny model every phase trains, a seeded RNG, child
// processes with a deadline, and the figures table.
import { spawn } from 'child_process';
import * as path from 'path';

export const ROOT = path.resolve(__dirname, '..', '..');
export const CLI = path.join(ROOT, 'dist', 'cli', 'index.js');

/** Small enough for a step in tens of ms on one core, real enough to exercise every phase. */
export const TINY_CONFIG = {
  backbone: { depth: 18, width: 0.125, stem: 'cifar', inChannels: 1 },
  projector: { hiddenDim: 32, outDim: 16 },
  augment: { outSize: 16 },
  totalSteps: 1000,
};

/** pretrain flags of the same tiny model on a Fashion-MNIST subset. */
export function tinyPretrainArgs(out: string, steps: number, extra: string[] = []): string[] {
  return [
    CLI, 'pretrain', '--dataset', 'fashion-mnist', '--subset', '512', '--batch-size', '16', '--steps', String(steps),
    '--width', '0.125', '--set', 'projector.hiddenDim=32', '--set', 'projector.outDim=16', '--set', 'augment.outSize=16',
    '--threads', '1', '--progress', 'none', '--out', out, ...extra,
  ];
}

/** A small seeded generator (mulberry32), so every fuzzed case can be replayed from its seed. */
export { seededRandom as rng } from '../../lib/analysis/resampling';

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  ms: number;
}

export const CHILD_ENV = { ...process.env, OMP_WAIT_POLICY: 'PASSIVE', OMP_NUM_THREADS: '1', MOMENTUM_SSL_NUM_THREADS: '1' };

/**
 * Runs `node args` with a deadline (SIGKILL after `timeoutMs`: counted as a hang). `killAfterMs`
 * sends SIGKILL at that moment on purpose (the kill -9 trials).
 */
export function runNode(
  args: string[],
  opts: { timeoutMs: number; killAfterMs?: number; env?: NodeJS.ProcessEnv; signalWhen?: { ready: () => boolean; signal: NodeJS.Signals } },
): Promise<ChildResult> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, args, { cwd: ROOT, env: opts.env ?? CHILD_ENV, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const deadline = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs);
    const kill = opts.killAfterMs !== undefined ? setTimeout(() => child.kill('SIGKILL'), opts.killAfterMs) : undefined;
    // Sends `signal` once `ready()` holds (polled), e.g. after the first steps are logged.
    const poll = opts.signalWhen
      ? setInterval(() => {
          if (opts.signalWhen!.ready()) {
            clearInterval(poll);
            child.kill(opts.signalWhen!.signal);
          }
        }, 50)
      : undefined;
    child.on('close', (code, signal) => {
      clearTimeout(deadline);
      if (poll) clearInterval(poll);
      if (kill) clearTimeout(kill);
      resolve({ code, signal, stdout, stderr, timedOut, ms: Date.now() - t0 });
    });
  });
}

/** One row of the figures table: what was measured, the figure, the bar it must meet. */
export interface Figure {
  phase: string;
  measure: string;
  value: number | string;
  target: string;
  ok: boolean;
  /** A phase that could not run here (e.g. mount refused), with the reason. */
  skipped?: string;
}

export function formatTable(rows: Figure[]): string {
  const head = ['phase', 'measure', 'value', 'target', 'result'];
  const body = rows.map((r) => [r.phase, r.measure, typeof r.value === 'number' ? fmt(r.value) : r.value, r.target, r.skipped ? `skipped (${r.skipped})` : r.ok ? 'ok' : 'FAIL']);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

function fmt(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(Math.abs(v) < 10 ? 2 : 1);
}
