// The run lock: one writer per output folder. A second pretrain on the same --out fails at once,
// naming the holder's pid, instead of two processes renaming each other's checkpoints and tearing
// metrics.jsonl. A lock left by a killed process (its pid no longer runs) is taken over.
import * as fs from 'fs';
import * as path from 'path';

import { ioError } from '../errors';

export const LOCK_FILE = '.momentum-ssl.lock';

export interface RunLock {
  readonly file: string;
  release(): void;
}

/** Thrown when another live process holds the folder (code ERR_LOCKED, `pid` of the holder). */
export class LockedError extends Error {
  readonly code = 'ERR_LOCKED';
  constructor(
    message: string,
    readonly pid: number,
    readonly file: string,
  ) {
    super(message);
    this.name = 'LockedError';
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function holderPid(file: string): number | undefined {
  try {
    const pid = Number(JSON.parse(fs.readFileSync(file, 'utf8')).pid);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined; // being written, or torn by a crash: treated as stale below
  }
}

/** Takes the lock of `dir` (created if missing) for this process; release() gives it back. */
export function acquireRunLock(dir: string): RunLock {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    let fd: number;
    try {
      fd = fs.openSync(file, 'wx');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw ioError('cannot create lock file', file, e);
      const pid = holderPid(file);
      if (pid !== undefined && pid !== process.pid && isAlive(pid)) {
        throw new LockedError(`'${dir}' is in use by process ${pid} (lock file ${file}); wait for it to finish or stop it`, pid, file);
      }
      fs.rmSync(file, { force: true }); // stale: its process is gone
      continue;
    }
    try {
      fs.writeSync(fd, JSON.stringify({ pid: process.pid, started: new Date().toISOString() }) + '\n');
    } finally {
      fs.closeSync(fd);
    }
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      process.off('exit', release);
      if (holderPid(file) === process.pid) fs.rmSync(file, { force: true });
    };
    process.on('exit', release); // process.exit() skips finally blocks
    return { file, release };
  }
  throw new LockedError(`'${dir}': could not take the lock file ${file} (another process keeps creating it)`, 0, file);
}
