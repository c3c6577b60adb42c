// ProcessGroup: a data-parallel group on LibTorch's c10d (design §9) — rendezvous over a TCPStore
// from torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR,
// MASTER_PORT; `momentum-ssl launch` sets them), Gloo on CPU, NCCL on CUDA. The collectives of
// training run inside the native step; this handle joins, checks that the ranks agree, and leaves.
import { binding } from '../native';
import type { NativeProcessGroup } from '../native';
import { ConfigError } from '../errors';

export interface ProcessGroupOptions {
  rank: number;
  worldSize: number;
  localRank: number;
  localWorldSize: number;
  masterAddr: string;
  masterPort: number;
  /** 'auto': NCCL for a CUDA device when the build has it, else Gloo. */
  backend: 'auto' | 'gloo' | 'nccl';
  /** Gloo's network interface (GLOO_SOCKET_IFNAME); '' = the one that routes to the master. */
  interface: string;
  /** Rendezvous timeout: every rank must have joined by then. */
  connectTimeoutMs: number;
  /** Timeout of each collective: how long a rank waits for a dead or stuck peer. */
  timeoutMs: number;
}

/** The defaults (native/core/distributed.h) and the environment's values, as torchrun sets them. */
export function distributedDefaults(): Readonly<ProcessGroupOptions> {
  return Object.freeze(binding().distributedBackends().defaults);
}

/** The options the environment describes, and whether WORLD_SIZE was set at all. */
export function distributedFromEnv(): { options: ProcessGroupOptions; found: boolean } {
  const { found, ...options } = binding().distributedEnv();
  return { options, found };
}

/** Whether this process was started as one of several workers (WORLD_SIZE > 1 in the environment). */
export function isDistributedLaunch(): boolean {
  const { options, found } = distributedFromEnv();
  return found && options.worldSize > 1;
}

export class ProcessGroup {
  readonly rank: number;
  readonly worldSize: number;
  readonly localRank: number;
  readonly options: Readonly<ProcessGroupOptions>;
  /** @internal the native handle (SslModel.setProcessGroup takes it). */
  readonly native: NativeProcessGroup;

  private constructor(native: NativeProcessGroup) {
    this.native = native;
    this.options = Object.freeze(native.config);
    this.rank = this.options.rank;
    this.worldSize = this.options.worldSize;
    this.localRank = this.options.localRank;
  }

  /**
   * Joins the group: options over the environment's (torchrun's variables) over the defaults.
   * Resolves when every rank has joined; rejects naming the master address and port when it is
   * unreachable or the port is taken, and naming both sizes when WORLD_SIZE differs between ranks.
   */
  static async init(options: Partial<ProcessGroupOptions> = {}, device = 'cpu'): Promise<ProcessGroup> {
    const merged = { ...distributedFromEnv().options, ...definedOnly(options) };
    const native = new (binding().NativeProcessGroup)(merged);
    await native.connect(device);
    return new ProcessGroup(native);
  }

  get isMain(): boolean {
    return this.rank === 0;
  }

  /** Every rank's string, in rank order. */
  allGatherStrings(s: string): Promise<string[]> {
    return this.native.allGatherStrings(s);
  }

  /**
   * Checks that every rank holds the same values (a flat record of field → value): throws the
   * same ConfigError on every rank, naming the first field that differs and the ranks' values.
   */
  async agree(what: string, fields: Record<string, unknown>): Promise<void> {
    const mine = JSON.stringify(flatten(fields, '').map(([k, v]) => [k, JSON.stringify(v) ?? 'undefined']));
    const all = (await this.allGatherStrings(mine)).map((s) => JSON.parse(s) as [string, string][]);
    const ref = all[0];
    for (let r = 1; r < all.length; r++) {
      const other = all[r];
      const keys = [...new Set([...ref.map(([k]) => k), ...other.map(([k]) => k)])];
      for (const k of keys) {
        const a = ref.find(([x]) => x === k)?.[1];
        const b = other.find(([x]) => x === k)?.[1];
        if (a !== b) throw new ConfigError(`distributed: ${what} differs between ranks: ${k} is ${a ?? '(missing)'} on rank 0 but ${b ?? '(missing)'} on rank ${r}`);
      }
    }
  }

  /** true on every rank if any rank passed true (a collective stop decision). */
  anyTrue(flag: boolean): Promise<boolean> {
    return this.native.anyTrue(flag);
  }

  barrier(): Promise<void> {
    return this.native.barrier();
  }

  /** Milliseconds spent inside collectives so far (this rank). */
  get busyMs(): number {
    return this.native.busyMs;
  }

  /** Leaves the group (a bounded barrier first, so no rank tears down mid-collective). */
  shutdown(): Promise<void> {
    return this.native.shutdown();
  }
}

/** Nested plain objects as dotted leaf fields (arrays are leaves), so a difference names its field. */
function flatten(o: Record<string, unknown>, prefix: string): [string, unknown][] {
  return Object.entries(o).flatMap(([k, v]) =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? flatten(v as Record<string, unknown>, `${prefix}${k}.`) : [[`${prefix}${k}`, v] as [string, unknown]],
  );
}

function definedOnly<T extends object>(o: T): Partial<T> {
  for (const [k, v] of Object.entries(o)) {
    if (v !== undefined && typeof v === 'number' && !Number.isFinite(v)) throw new ConfigError(`distributed.${k} must be a finite number, got ${v}`);
  }
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
