// Image folder: root/<class>/<image>, classes = sorted sub-folder names. Decoded and resized with
// the optional dependency `sharp` (prebuilt libvips from the npm registry), then stored as one
// native uint8 tensor; the interleaved HWC pixels are transposed to CHW natively, once.
import { promises as fsp } from 'fs';
import * as path from 'path';

import { Tensor } from '../tensor';
import { DatasetError, ImageDataset } from './dataset';

export interface ImageFolderOptions {
  /** Output size: a number (square) or [height, width]. Default: the first image's size. */
  size?: number | readonly [number, number];
  /** 3 (RGB, default) or 1 (grayscale). Alpha is dropped. */
  channels?: 1 | 3;
  /** How images of another size are fitted: 'cover' (scale + centre crop, default), 'fill' (stretch), 'contain' (scale + black bars). */
  fit?: 'cover' | 'fill' | 'contain';
  /** File extensions to read (lower case, with dot). Other files are ignored. */
  extensions?: readonly string[];
  /** Images decoded at once (default 4). */
  concurrency?: number;
  name?: string;
}

const DEFAULT_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.webp', '.gif', '.tif', '.tiff', '.avif'];

type Sharp = (input: string) => {
  metadata(): Promise<{ width?: number; height?: number }>;
  resize(w: number, h: number, o: object): ReturnType<Sharp>;
  removeAlpha(): ReturnType<Sharp>;
  toColourspace(c: string): ReturnType<Sharp>;
  grayscale(): ReturnType<Sharp>;
  raw(): ReturnType<Sharp>;
  toBuffer(o: { resolveWithObject: true }): Promise<{ data: Buffer; info: { width: number; height: number; channels: number } }>;
};

function loadSharp(): Sharp {
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    return require('sharp') as Sharp;
  } catch (e) {
    throw new DatasetError(
      `loadImageFolder needs the optional dependency 'sharp' (decoder with a prebuilt libvips from the npm registry), which failed to load: ${(e as Error).message.split('\n')[0]}. Install it with \`npm install sharp\`.`,
      { code: 'ERR_DATASET_DECODER', cause: e },
    );
  }
}

function sizeOf(size: ImageFolderOptions['size']): [number, number] | undefined {
  if (size === undefined) return undefined;
  const hw = typeof size === 'number' ? [size, size] : Array.isArray(size) && size.length === 2 ? [size[0], size[1]] : null;
  if (!hw || !hw.every((v) => Number.isInteger(v) && v >= 1)) {
    throw new RangeError(`loadImageFolder: size must be a positive integer or [height, width], got ${JSON.stringify(size)}`);
  }
  return hw as [number, number];
}

/** Loads root/<class>/<image> files as an ImageDataset [N, C, H, W]; labels follow sorted class names. */
export async function loadImageFolder(root: string, options: ImageFolderOptions = {}): Promise<ImageDataset> {
  if (typeof root !== 'string') throw new TypeError('loadImageFolder: root must be a directory path');
  const channels = options.channels ?? 3;
  if (channels !== 1 && channels !== 3) throw new RangeError(`loadImageFolder: channels must be 1 or 3, got ${String(channels)}`);
  const fit = options.fit ?? 'cover';
  if (!['cover', 'fill', 'contain'].includes(fit)) throw new RangeError(`loadImageFolder: fit must be 'cover', 'fill' or 'contain', got ${String(fit)}`);
  const exts = new Set((options.extensions ?? DEFAULT_EXTENSIONS).map((e) => e.toLowerCase()));
  const concurrency = options.concurrency ?? 4;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`loadImageFolder: concurrency must be an integer >= 1, got ${String(concurrency)}`);
  let hw = sizeOf(options.size);

  let entries;
  try {
    entries = await fsp.readdir(root, { withFileTypes: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new DatasetError(`${root}: ${code === 'ENOENT' ? 'image folder not found' : code === 'ENOTDIR' ? 'not a directory' : (e as Error).message}`, {
      file: root,
      code: code === 'ENOENT' ? 'ERR_DATASET_MISSING' : 'ERR_DATASET',
      cause: e,
    });
  }
  const classNames = entries.filter((d) => d.isDirectory() && !d.name.startsWith('.')).map((d) => d.name).sort();
  if (classNames.length === 0) throw new DatasetError(`${root}: no class sub-folders (expected root/<class>/<image files>)`, { file: root });
  const files: string[] = [];
  const labels: number[] = [];
  for (let c = 0; c < classNames.length; c++) {
    const dir = path.join(root, classNames[c]);
    const names = (await fsp.readdir(dir, { withFileTypes: true }))
      .filter((d) => d.isFile() && !d.name.startsWith('.') && exts.has(path.extname(d.name).toLowerCase()))
      .map((d) => d.name)
      .sort();
    for (const n of names) {
      files.push(path.join(dir, n));
      labels.push(c);
    }
  }
  if (files.length === 0) throw new DatasetError(`${root}: no image files (${[...exts].join(', ')}) in its class sub-folders`, { file: root });

  const sharp = loadSharp();
  const decodeError = (file: string, e: unknown): DatasetError =>
    new DatasetError(`${file}: cannot decode image (${(e as Error).message})`, { file, cause: e });
  if (hw === undefined) {
    try {
      const m = await sharp(files[0]).metadata();
      if (!m.width || !m.height) throw new Error('no width/height in the header');
      hw = [m.height, m.width];
    } catch (e) {
      throw decodeError(files[0], e);
    }
  }
  const [h, w] = hw;
  const per = h * w * channels;
  const pixels = new Uint8Array(files.length * per);

  const decode = async (i: number): Promise<void> => {
    try {
      let img = sharp(files[i]).resize(w, h, { fit, position: 'centre', background: { r: 0, g: 0, b: 0 } }).removeAlpha();
      img = channels === 1 ? img.grayscale() : img.toColourspace('srgb');
      const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
      if (info.width !== w || info.height !== h || info.channels !== channels || data.length !== per) {
        throw new Error(`decoded to ${info.width}x${info.height}x${info.channels}, expected ${w}x${h}x${channels}`);
      }
      pixels.set(data, i * per);
    } catch (e) {
      throw decodeError(files[i], e);
    }
  };
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < files.length) await decode(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, files.length) }, worker));

  const img = Tensor.from(pixels, [files.length, h, w, channels]);
  const lab = Tensor.from(Int32Array.from(labels));
  try {
    return ImageDataset.build(img.handle, lab.handle, { numClasses: classNames.length, classNames, name: options.name ?? path.basename(path.resolve(root)), layout: 'nhwc' });
  } finally {
    img.dispose();
    lab.dispose();
  }
}

/** Whether the optional decoder (sharp) loads here. */
export function imageFolderAvailable(): boolean {
  try {
    loadSharp();
    return true;
  } catch {
    return false;
  }
}
