// Shared by the data-parallel scripts: run the CLI (optionally under `launch`) and read a run's
// per-step metrics.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

export const CLI = path.resolve(__dirname, '../../dist/cli/index.js');

export interface StepLine {
  step: number;
  loss: number;
  ms: Record<string, number>;
  communicationMs: number;
  allReduceBytes: number;
}

/** Runs `momentum-ssl <args>` (under `launch --standalone --nproc-per-node n` when n > 1); throws on failure. */
export function runCli(args: string[], nproc: number, env: NodeJS.ProcessEnv = {}): void {
  const argv = nproc > 1 ? [CLI, 'launch', '--standalone', '--nproc-per-node', String(nproc), '--', ...args] : [CLI, ...args];
  const r = spawnSync(process.execPath, argv, { env: { ...process.env, OMP_WAIT_POLICY: 'PASSIVE', ...env }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`momentum-ssl ${args.join(' ')} (${nproc} process(es)) failed with ${r.status ?? r.signal}:\n${r.stderr}`);
}

export function readSteps(outDir: string): StepLine[] {
  return fs
    .readFileSync(path.join(outDir, 'metrics.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as StepLine & { type: string })
    .filter((l) => l.type === 'step');
}

/** Augmentation that does not depend on a sample's rank or batch position: the identity. */
export const IDENTITY_AUGMENT = { scale: [1, 1], ratio: [1, 1], flipP: 0, jitterP: 0, grayscaleP: 0, blurP: 0, solarizeP: 0 };

export function writeConfig(dir: string, config: object): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'config.json');
  fs.writeFileSync(file, JSON.stringify(config, null, 2));
  return file;
}
