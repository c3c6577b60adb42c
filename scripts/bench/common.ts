// Helpers shared by the benchmark orchestrator and its children: statistics and a JSON-lines
// child-process client (one request line in, one reply line out).
import { ChildProcess, spawn } from 'child_process';
import * as readline from 'readline';

export const PYTHON = '/usr/bin/python3';

export { median } from '../../lib/analysis/stats';

export function now(): number {
  return Number(process.hrtime.bigint()) / 1e9;
}

/** A child speaking JSON lines: the first line it prints is its "ready" message. */
export class LineChild {
  readonly proc: ChildProcess;
  private readonly pending: ((line: string) => void)[] = [];
  private readonly lines: string[] = [];
  private exited: string | null = null;
  readonly ready: Promise<Record<string, unknown>>;

  constructor(command: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
    this.proc = spawn(command, args, { stdio: ['pipe', 'pipe', 'inherit'], env });
    const rl = readline.createInterface({ input: this.proc.stdout! });
    rl.on('line', (line) => {
      if (!line.startsWith('{')) {
        process.stderr.write(`[${command}] ${line}\n`);
        return;
      }
      const waiter = this.pending.shift();
      if (waiter) waiter(line);
      else this.lines.push(line);
    });
    this.proc.on('exit', (code, signal) => {
      this.exited = `exited with ${code ?? signal}`;
      for (const w of this.pending.splice(0)) w(JSON.stringify({ error: `${command} ${this.exited}` }));
    });
    this.ready = this.next();
  }

  private next(): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const take = (line: string) => {
        const obj = JSON.parse(line) as Record<string, unknown>;
        if (obj.error) reject(new Error(String(obj.error)));
        else resolve(obj);
      };
      const queued = this.lines.shift();
      if (queued !== undefined) take(queued);
      else if (this.exited) reject(new Error(`child ${this.exited}`));
      else this.pending.push(take);
    });
  }

  request<T = Record<string, unknown>>(obj: object): Promise<T> {
    this.proc.stdin!.write(JSON.stringify(obj) + '\n');
    return this.next() as Promise<T>;
  }

  /** Sends quit and returns the final line (if the child prints one). */
  async quit(): Promise<Record<string, unknown> | null> {
    if (this.exited) return null;
    const done = new Promise<void>((r) => this.proc.once('exit', () => r()));
    this.proc.stdin!.write(JSON.stringify({ cmd: 'quit' }) + '\n');
    let last: Record<string, unknown> | null = null;
    try {
      last = await Promise.race([this.next(), done.then(() => null)]);
    } catch {
      last = null;
    }
    this.proc.stdin!.end();
    await done;
    return last;
  }
}

/** Bench-only entry points beyond lib/native.ts's typed ones (native/napi/bench_binding.cc). */
export interface BenchExtras {
  /** Forces the fused EMA's CPU kernel ('avx512' | 'avx2' | 'baseline' | 'auto'); returns the one in use. */
  benchEmaIsa(isa?: string): string;
  benchMatmul(m: number, k: number, n: number, iters: number): Promise<number>;
  benchConv2d(b: number, cin: number, cout: number, hw: number, k: number, iters: number, channelsLast: boolean, backward: boolean): Promise<number>;
}

/** 'AVX-512' / 'AVX2' / 'baseline' from /proc/cpuinfo flags, plus the AVX-512 subsets present. */
export function cpuFlags(cpuinfo: string): { kind: string; flags: string[] } {
  const line = (cpuinfo.match(/^flags\s*:\s*(.*)$/m) ?? [])[1] ?? '';
  const all = new Set(line.split(/\s+/));
  const flags = ['avx2', 'fma', 'avx512f', 'avx512bw', 'avx512vl', 'avx512_vnni', 'avx512_bf16', 'amx_tile'].filter((f) => all.has(f));
  const kind = all.has('avx512f') ? 'AVX-512' : all.has('avx2') ? 'AVX2' : 'baseline';
  return { kind, flags };
}
