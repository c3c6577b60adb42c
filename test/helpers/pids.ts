// Whether processes are still there, for the launcher's no-orphan checks. A zombie (exited, not
// yet reaped by its new parent) counts as gone: it runs nothing.
import * as fs from 'fs';

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'ESRCH';
  }
  try {
    // /proc/PID/stat: "pid (comm) state ..."; comm may hold spaces, so read after the last ')'.
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return process.platform !== 'linux';
  }
}

/** Resolves to the pids still alive after up to `ms` of waiting for them to go. */
export async function stillAlive(pids: number[], ms = 3000): Promise<number[]> {
  const t0 = Date.now();
  let left = pids.filter(alive);
  while (left.length > 0 && Date.now() - t0 < ms) {
    await new Promise((r) => setTimeout(r, 50));
    left = left.filter(alive);
  }
  return left;
}
