// Runs a snippet of TypeScript-free JS in a fresh Node process with the package's lib/ loadable
// through ts-node (transpile only), so process-level behaviour (exit codes, signals) is real.
import { spawnSync, SpawnSyncReturns } from 'child_process';
import * as path from 'path';

export const repoRoot = path.resolve(__dirname, '..', '..');
export const libPath = path.join(repoRoot, 'lib');

export function runNode(code: string, opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; wrap?: (argv: string[]) => [string, string[]] } = {}): SpawnSyncReturns<string> {
  const argv = [process.execPath, '-r', require.resolve('ts-node/register/transpile-only'), '-e', code];
  const [cmd, args] = opts.wrap ? opts.wrap(argv) : [argv[0], argv.slice(1)];
  return spawnSync(cmd, args, {
    cwd: repoRoot,
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? 180000,
    env: { ...process.env, TS_NODE_PROJECT: path.join(repoRoot, 'tsconfig.json'), ...(opts.env ?? {}) },
  });
}
