import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { acquireRunLock, LOCK_FILE, LockedError } from '../../../lib/train/lock';

describe('run lock', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mssl-lock-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('held by a live process: a second writer fails at once naming its pid', () => {
    // The parent of this test process is alive for the whole test.
    fs.writeFileSync(path.join(dir, LOCK_FILE), JSON.stringify({ pid: process.ppid }));
    let err: unknown;
    try {
      acquireRunLock(dir);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LockedError);
    expect((err as LockedError).code).toBe('ERR_LOCKED');
    expect((err as LockedError).pid).toBe(process.ppid);
    expect((err as Error).message).toMatch(new RegExp(`is in use by process ${process.ppid}`));
  });

  test('a lock of a process that is gone is taken over; release removes it', () => {
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
    fs.writeFileSync(path.join(dir, LOCK_FILE), JSON.stringify({ pid: Number(gone) }));
    const lock = acquireRunLock(dir);
    expect(JSON.parse(fs.readFileSync(lock.file, 'utf8')).pid).toBe(process.pid);
    lock.release();
    expect(fs.existsSync(lock.file)).toBe(false);
    fs.writeFileSync(path.join(dir, LOCK_FILE), '{torn'); // a crash mid-write: stale too
    acquireRunLock(dir).release();
  });
});
