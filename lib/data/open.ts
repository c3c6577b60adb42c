// Opening a dataset split by name (fashion-mnist, mnist, cifar10, cifar100) or by folder path,
// with an optional seeded subset: what every front end (CLI, demo, reproduce) trains and
// evaluates on.
import * as fs from 'fs';
import * as path from 'path';

import { ConfigError } from '../errors';
import { loadCifar10, loadCifar100 } from './cifar';
import { DatasetError, ImageDataset } from './dataset';
import { loadImageFolder } from './folder';
import { loadIdx } from './idx';
import { FASHION_MNIST_CLASSES, loadDataset, Split } from './sources';

/** Datasets known by name; anything else is taken as a path (IDX folder, CIFAR folder, image folder). */
export const DATASET_NAMES = ['fashion-mnist', 'mnist', 'cifar10', 'cifar100'] as const;

export interface OpenDatasetOptions {
  dataDir?: string;
  /** Seeded random subset of this many images (0 or undefined = all). */
  subset?: number;
  seed?: number;
}

function exists(p: string): boolean {
  try {
    fs.statSync(p);
    return true;
  } catch {
    return false;
  }
}

function hasIdx(dir: string, split: Split): boolean {
  const prefix = split === 'train' ? 'train' : 't10k';
  return [`${prefix}-images-idx3-ubyte`, `${prefix}-labels-idx1-ubyte`].every((n) => exists(path.join(dir, n)) || exists(path.join(dir, `${n}.gz`)));
}

function idxPath(dir: string, name: string): string {
  return exists(path.join(dir, `${name}.gz`)) ? path.join(dir, `${name}.gz`) : path.join(dir, name);
}

/**
 * Opens a dataset split by name (fashion-mnist, mnist, cifar10, cifar100) or path: a folder of
 * IDX files (train-/t10k-images-idx3-ubyte[.gz]), of CIFAR-10 binaries, or of class sub-folders
 * (with train/ and test/ inside it, or the folder itself for both splits).
 */
export async function openDataset(spec: string, split: Split = 'train', options: OpenDatasetOptions = {}): Promise<ImageDataset> {
  if (typeof spec !== 'string' || spec === '') throw new ConfigError('dataset must be a name (fashion-mnist, mnist, cifar10, cifar100) or a folder path');
  let ds: ImageDataset;
  const dir = options.dataDir;
  if (spec === 'fashion-mnist' || spec === 'mnist') {
    ds = await loadDataset(spec, split, dir ? { dir } : {});
  } else if (spec === 'cifar10' || spec === 'cifar100') {
    if (!dir) throw new ConfigError(`${spec} needs the folder of its binary files (--data-dir / dataDir)`);
    ds = spec === 'cifar10' ? await loadCifar10(dir, { split }) : await loadCifar100(dir, { split });
  } else {
    let st: fs.Stats;
    try {
      st = fs.statSync(spec);
    } catch {
      throw new DatasetError(`dataset '${spec}' is neither a known name (${DATASET_NAMES.join(', ')}) nor an existing folder`, { file: spec, code: 'ERR_DATASET_MISSING' });
    }
    if (!st.isDirectory()) throw new DatasetError(`${spec}: not a folder (expected IDX files, CIFAR binaries or class sub-folders)`, { file: spec });
    if (hasIdx(spec, split)) {
      const prefix = split === 'train' ? 'train' : 't10k';
      const fashion = /fashion/i.test(spec);
      ds = await loadIdx({
        images: idxPath(spec, `${prefix}-images-idx3-ubyte`),
        labels: idxPath(spec, `${prefix}-labels-idx1-ubyte`),
        numClasses: 10,
        classNames: fashion ? FASHION_MNIST_CLASSES : undefined,
        name: `${path.basename(path.resolve(spec))}/${split}`,
      });
    } else if (exists(path.join(spec, 'data_batch_1.bin')) || exists(path.join(spec, 'cifar-10-batches-bin'))) {
      ds = await loadCifar10(spec, { split });
    } else if (exists(path.join(spec, 'train.bin')) || exists(path.join(spec, 'cifar-100-binary'))) {
      ds = await loadCifar100(spec, { split });
    } else {
      const sub = path.join(spec, split);
      ds = await loadImageFolder(exists(sub) && fs.statSync(sub).isDirectory() ? sub : spec, { name: `${path.basename(path.resolve(spec))}/${split}` });
    }
  }
  const n = options.subset ?? 0;
  if (!Number.isInteger(n) || n < 0) {
    ds.dispose();
    throw new ConfigError(`subset must be an integer >= 0, got ${String(n)}`);
  }
  if (n > 0 && n < ds.length) {
    try {
      return ds.subset(seededSubset(ds.length, n, options.seed ?? 0), `${ds.name}[${n}]`);
    } finally {
      ds.dispose();
    }
  }
  return ds;
}

/** `count` distinct indices of 0..size-1, a seeded random choice (sorted). */
export function seededSubset(size: number, count: number, seed: number): Int32Array {
  const idx = Int32Array.from({ length: size }, (_, i) => i);
  let s = (seed >>> 0) ^ 0x9e3779b9;
  const rand = (): number => {
    // mulberry32
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const k = Math.min(count, size);
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(rand() * (size - i));
    const t = idx[i];
    idx[i] = idx[j];
    idx[j] = t;
  }
  return idx.subarray(0, k).sort();
}

