// run.json: what a pretrain run writes next to its checkpoint so that eval, embed and export can
// rebuild the same model later.
import * as fs from 'fs';
import * as path from 'path';

import type { EmaParts, SslConfig } from '../config';
import { ConfigError } from '../errors';
import type { SslModel } from '../model';
import { createModel } from './runConfig';

/** Written to outDir/run.json: everything needed to rebuild the model for eval/embed. */
export interface RunInfo {
  format: 'momentum-ssl-run';
  version: 1;
  method: string;
  ema?: EmaParts;
  dataset: string;
  dataDir?: string;
  subset: number;
  seed: number;
  batchSize: number;
  epochs: number;
  steps: number;
  config: SslConfig;
}

/** Writes `text` to `file` through a temporary file and a rename (no torn file on a crash). */
export function writeFileAtomic(file: string, text: string): void {
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

export function writeRunInfo(file: string, info: RunInfo): void {
  writeFileAtomic(file, JSON.stringify(info, null, 2) + '\n');
}

/** Reads a run.json written by pretrain(). */
export function readRunInfo(file: string): RunInfo {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ConfigError(`${file}: ${code === 'ENOENT' ? 'run description not found (written by pretrain next to checkpoint.pt)' : (e as Error).message}`);
  }
  let info: RunInfo;
  try {
    info = JSON.parse(text) as RunInfo;
  } catch (e) {
    throw new ConfigError(`${file}: not valid JSON (${(e as Error).message})`);
  }
  if (!info || info.format !== 'momentum-ssl-run' || typeof info.config !== 'object' || info.config === null) {
    throw new ConfigError(`${file}: not a momentum-ssl run description (format 'momentum-ssl-run' expected)`);
  }
  return info;
}

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Rebuilds the model of a pretrain() run and loads its weights. `checkpoint` is checkpoint.pt or
 * the run folder; the config comes from run.json beside it (or `runInfoPath`).
 */
export async function loadTrainedModel(checkpoint: string, runInfoPath?: string): Promise<{ model: SslModel; run: RunInfo; checkpoint: string }> {
  const ckpt = isDir(checkpoint) ? path.join(checkpoint, 'checkpoint.pt') : checkpoint;
  if (!fs.existsSync(ckpt)) throw new ConfigError(`checkpoint '${checkpoint}' not found`);
  const run = readRunInfo(runInfoPath ?? path.join(path.dirname(ckpt), 'run.json'));
  const model = createModel(run.config);
  try {
    await model.load(ckpt);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return { model, run, checkpoint: ckpt };
}
