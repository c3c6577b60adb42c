// CIFAR-10 / CIFAR-100 binary format. Each record: the label byte(s) then 3072 pixel bytes
// (1024 red, 1024 green, 1024 blue; 32x32 row-major). CIFAR-10: 1 label byte (3073 bytes/record);
// CIFAR-100: coarse then fine label byte (3074 bytes/record).
import * as fs from 'fs';
import { promises as fsp } from 'fs';
import * as path from 'path';

import { binding } from '../native';
import { Tensor } from '../tensor';
import { DatasetError, ImageDataset } from './dataset';

export type CifarSplit = 'train' | 'test';

export interface CifarOptions {
  /** Default 'train'. */
  split?: CifarSplit;
  /** Explicit record files (overrides split and the standard names). */
  files?: string[];
  name?: string;
}

export interface Cifar100Options extends CifarOptions {
  /** Which label byte to use: 'fine' (100 classes, default) or 'coarse' (20 superclasses). */
  label?: 'fine' | 'coarse';
}

const PIXELS = 3 * 32 * 32;

interface Variant {
  title: string;
  subdir: string;
  files: Record<CifarSplit, string[]>;
  labelBytes: number;
}

const CIFAR10: Variant = {
  title: 'CIFAR-10',
  subdir: 'cifar-10-batches-bin',
  files: { train: [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`), test: ['test_batch.bin'] },
  labelBytes: 1,
};
const CIFAR100: Variant = {
  title: 'CIFAR-100',
  subdir: 'cifar-100-binary',
  files: { train: ['train.bin'], test: ['test.bin'] },
  labelBytes: 2,
};

/** `dir` itself, or its standard sub-folder from the official archive, whichever has the files. */
function resolveDir(dir: string, v: Variant, first: string): string {
  if (fs.existsSync(path.join(dir, first))) return dir;
  const nested = path.join(dir, v.subdir);
  if (fs.existsSync(path.join(nested, first))) return nested;
  return dir;
}

async function readClassNames(file: string, count: number): Promise<string[] | undefined> {
  try {
    const names = (await fsp.readFile(file, 'utf8')).split(/\r?\n/).map((s) => s.trim()).filter((s) => s.length > 0);
    return names.length === count ? names : undefined;
  } catch {
    return undefined;
  }
}

async function loadRecords(v: Variant, files: string[], labelOffset: number, numClasses: number, classNames: string[] | undefined, name: string): Promise<ImageDataset> {
  const recordSize = v.labelBytes + PIXELS;
  const parts: Buffer[] = [];
  for (const file of files) {
    let buf: Buffer;
    try {
      buf = await fsp.readFile(file);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new DatasetError(
        `${file}: ${code === 'ENOENT' ? `${v.title} file not found (expected the binary version, files ${v.files.train.concat(v.files.test).join(', ')})` : (e as Error).message}`,
        { file, code: code === 'ENOENT' ? 'ERR_DATASET_MISSING' : 'ERR_DATASET', cause: e },
      );
    }
    if (buf.length === 0 || buf.length % recordSize !== 0) {
      throw new DatasetError(
        `${file}: size ${buf.length} bytes is not a positive multiple of the ${v.title} record size ${recordSize} (truncated, or not a ${v.title} binary file)`,
        { file },
      );
    }
    // Label check while parsing: one byte per record, so the error can name file and record.
    for (let r = 0, off = labelOffset; off < buf.length; r++, off += recordSize) {
      if (buf[off] >= numClasses) {
        throw new DatasetError(`${file}: record ${r} has label ${buf[off]}, expected 0..${numClasses - 1} (not a ${v.title} file?)`, { file });
      }
    }
    parts.push(buf);
  }
  const all = parts.length === 1 ? parts[0] : Buffer.concat(parts);
  const raw = await Tensor.fromAsync(new Uint8Array(all.buffer, all.byteOffset, all.byteLength)); // off the event loop
  try {
    const u = binding().dataUnpackRecords(raw.handle, { recordSize, labelOffset, pixelOffset: v.labelBytes, channels: 3, height: 32, width: 32 });
    try {
      return ImageDataset.build(u.images, u.labels, { numClasses, classNames, name });
    } finally {
      u.images.dispose();
      u.labels.dispose();
    }
  } finally {
    raw.dispose();
  }
}

function filesFor(v: Variant, dir: string, opts: CifarOptions): string[] {
  if (opts.files !== undefined) {
    if (!Array.isArray(opts.files) || opts.files.length === 0) throw new TypeError(`${v.title}: options.files must be a non-empty array of paths`);
    return opts.files;
  }
  const split = opts.split ?? 'train';
  if (split !== 'train' && split !== 'test') throw new TypeError(`${v.title}: split must be 'train' or 'test', got ${String(split)}`);
  const names = v.files[split];
  const base = resolveDir(dir, v, names[0]);
  return names.map((f) => path.join(base, f));
}

/** Loads CIFAR-10 (binary version) from `dir` (or its cifar-10-batches-bin/): [N, 3, 32, 32], 10 classes. */
export async function loadCifar10(dir: string, options: CifarOptions = {}): Promise<ImageDataset> {
  if (typeof dir !== 'string') throw new TypeError('loadCifar10: dir must be a path');
  const files = filesFor(CIFAR10, dir, options);
  const classNames = await readClassNames(path.join(path.dirname(files[0]), 'batches.meta.txt'), 10);
  return loadRecords(CIFAR10, files, 0, 10, classNames, options.name ?? `cifar10/${options.files ? 'files' : options.split ?? 'train'}`);
}

/** Loads CIFAR-100 (binary version) from `dir` (or its cifar-100-binary/): [N, 3, 32, 32], fine (100) or coarse (20) labels. */
export async function loadCifar100(dir: string, options: Cifar100Options = {}): Promise<ImageDataset> {
  if (typeof dir !== 'string') throw new TypeError('loadCifar100: dir must be a path');
  const label = options.label ?? 'fine';
  if (label !== 'fine' && label !== 'coarse') throw new TypeError(`loadCifar100: label must be 'fine' or 'coarse', got ${String(label)}`);
  const files = filesFor(CIFAR100, dir, options);
  const numClasses = label === 'fine' ? 100 : 20;
  const classNames = await readClassNames(path.join(path.dirname(files[0]), `${label}_label_names.txt`), numClasses);
  return loadRecords(CIFAR100, files, label === 'fine' ? 1 : 0, numClasses, classNames, options.name ?? `cifar100/${options.files ? 'files' : options.split ?? 'train'}`);
}
