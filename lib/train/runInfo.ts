// run.json: what a pretrain run writes next to its checkpoint so that eval, embed and export can
// rebuild the same model later.
import * as fs from 'fs';
import * as path from 'path';

import type { EmaParts, SslConfig } from '../config';
import { ConfigError, ioError } from '../errors';
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
  /** Processes of a data-parallel run (absent: 1); batchSize is per process. */
  worldSize?: number;
}

/**
 * Writes `text` to `file` through a temporary file, fsync and a rename, then fsyncs the folder:
 * after a crash the file is the old one or the new one, never torn. Failures are ERR_IO errors
 * naming the path, and remove the temporary file.
 */
export function writeFileAtomic(file: string, text: string): void {
  const tmp = `${file}.tmp`;
  try {
    const fd = fs.openSync(tmp, 'w');
    try {
      fs.writeSync(fd, text);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw ioError('cannot write', file, e);
  }
  try {
    const dfd = fs.openSync(path.dirname(path.resolve(file)), 'r');
    try {
      fs.fsyncSync(dfd);
    } finally {
      fs.closeSync(dfd);
    }
  } catch {
    // best effort: some file systems refuse fsync on folders
  }
}

// What may change between an interrupted run and its --resume: the budget and the LR schedule
// (a diverged run resumes with a lower LR), the device and monitoring. Everything else decides
// what the checkpoint and the sampler position mean.
const RESUME_MAY_CHANGE = new Set(['epochs', 'steps', 'config.totalSteps', 'config.optimizer.lr', 'config.optimizer.finalLr', 'config.optimizer.warmupSteps', 'config.device', 'config.gradMonitor.enabled']);

function differences(a: unknown, b: unknown, at: string, out: string[]): void {
  if (RESUME_MAY_CHANGE.has(at)) return;
  const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
  if (isObj(a) && isObj(b)) {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) differences(a[k], b[k], at ? `${at}.${k}` : k, out);
  } else if (JSON.stringify(a) !== JSON.stringify(b)) {
    out.push(`${at.replace(/^config\./, '')} (was ${JSON.stringify(a) ?? 'unset'}, now ${JSON.stringify(b) ?? 'unset'})`);
  }
}

/**
 * Throws a ConfigError naming every field in which `next` differs from the run.json of the run
 * being resumed (before anything is written, so a refused resume changes no file).
 */
export function checkResumable(file: string, next: RunInfo): void {
  if (!fs.existsSync(file)) return;
  const prev = readRunInfo(file);
  const diff: string[] = [];
  differences(prev, next, '', diff);
  if (diff.length > 0) {
    throw new ConfigError(`cannot resume the run in ${path.dirname(file)}: it was made with different settings: ${diff.join('; ')}. Resume with the original options, or use another --out`);
  }
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
