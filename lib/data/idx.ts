// IDX reader (the MNIST / Fashion-MNIST format), raw or gzip-compressed. Header: two zero bytes,
// a type code, the number of dimensions, then one big-endian uint32 per dimension; data follows.
import { promises as fsp } from 'fs';
import * as zlib from 'zlib';
import { promisify } from 'util';
import { Worker } from 'worker_threads';

import { DatasetError, ImageDataset, datasetFromBytesAsync } from './dataset';

const gunzip = promisify(zlib.gunzip);

// Above this size the gzip stream is decoded in a worker thread: zlib's async API runs the
// inflate on libuv's pool but gathers and concatenates the output chunks on the JS thread
// (tens of ms for a 47 MB image file); in a worker the whole decode is off it and the result
// comes back by transfer, without a copy (reliability #13: event-loop lag while loading).
const WORKER_GUNZIP_BYTES = 1 << 20;
const GUNZIP_WORKER = `
const { parentPort, workerData } = require('worker_threads');
const zlib = require('zlib');
try {
  const out = zlib.gunzipSync(Buffer.from(workerData.buffer, workerData.byteOffset, workerData.byteLength));
  const ab = out.byteOffset === 0 && out.byteLength === out.buffer.byteLength ? out.buffer : out.buffer.slice(out.byteOffset, out.byteOffset + out.byteLength);
  parentPort.postMessage({ ok: true, data: ab }, [ab]);
} catch (e) {
  parentPort.postMessage({ ok: false, message: String(e && e.message || e) });
}`;

function gunzipInWorker(buf: Buffer): Promise<Buffer> {
  const whole = buf.byteOffset === 0 && buf.byteLength === buf.buffer.byteLength;
  const input = new Uint8Array(whole ? buf.buffer : buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  return new Promise((resolve, reject) => {
    const w = new Worker(GUNZIP_WORKER, { eval: true, workerData: input, transferList: [input.buffer as ArrayBuffer] });
    w.once('message', (m: { ok: boolean; data?: ArrayBuffer; message?: string }) => {
      void w.terminate();
      if (m.ok) resolve(Buffer.from(m.data!));
      else reject(new Error(m.message));
    });
    w.once('error', reject);
  });
}

const TYPE_NAMES: Record<number, string> = { 0x08: 'unsigned byte', 0x09: 'signed byte', 0x0b: 'int16', 0x0c: 'int32', 0x0d: 'float32', 0x0e: 'float64' };

export interface IdxArray {
  /** Sizes from the header, e.g. [60000, 28, 28]. */
  dims: number[];
  /** The data bytes (a view on the file contents). */
  data: Uint8Array;
  file: string;
}

/** Reads a file, gunzipping it when it starts with the gzip magic bytes. Errors name the file. */
export async function readMaybeGzip(file: string): Promise<Uint8Array> {
  let buf: Buffer;
  try {
    buf = await fsp.readFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const what = code === 'ENOENT' ? 'file not found' : code === 'EISDIR' ? 'is a directory, expected a file' : (e as Error).message;
    throw new DatasetError(`${file}: ${what}`, { file, code: code === 'ENOENT' ? 'ERR_DATASET_MISSING' : 'ERR_DATASET', cause: e });
  }
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) {
    try {
      buf = buf.length > WORKER_GUNZIP_BYTES ? await gunzipInWorker(buf) : await gunzip(buf);
    } catch (e) {
      throw new DatasetError(`${file}: corrupt gzip data (${(e as Error).message})`, { file, cause: e });
    }
  }
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** Parses IDX bytes (already decompressed). Only unsigned-byte data is supported. */
export function parseIdx(bytes: Uint8Array, file: string): IdxArray {
  const fail = (msg: string): never => {
    throw new DatasetError(`${file}: ${msg}`, { file });
  };
  if (bytes.length < 4) fail(`truncated IDX header (${bytes.length} bytes)`);
  const type = bytes[2];
  const ndims = bytes[3];
  if (bytes[0] !== 0 || bytes[1] !== 0 || TYPE_NAMES[type] === undefined || ndims === 0) {
    const magic = ((bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3]) >>> 0;
    fail(`bad magic number 0x${magic.toString(16).padStart(8, '0')}: not an IDX file (expected 0x0000080N)`);
  }
  if (type !== 0x08) fail(`IDX data type ${TYPE_NAMES[type]} (0x${type.toString(16)}) is not supported; only unsigned byte (0x08) images/labels`);
  const headerLen = 4 + 4 * ndims;
  if (bytes.length < headerLen) fail(`truncated IDX header: ${ndims} dimensions need ${headerLen} bytes, file has ${bytes.length}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  let count = 1;
  for (let i = 0; i < ndims; i++) {
    const d = view.getUint32(4 + 4 * i, false);
    dims.push(d);
    count *= d;
  }
  const have = bytes.length - headerLen;
  if (have < count) fail(`truncated: header says [${dims.join(', ')}] = ${count} bytes of data, file has ${have}`);
  if (have > count) fail(`${have - count} unexpected bytes after the data of [${dims.join(', ')}] (corrupt, or not an IDX file)`);
  return { dims, data: bytes.subarray(headerLen), file };
}

/** Reads and parses an IDX file (raw or .gz). */
export async function readIdx(file: string): Promise<IdxArray> {
  return parseIdx(await readMaybeGzip(file), file);
}

export interface IdxDatasetOptions {
  /** IDX file of images [N, H, W] (uint8), raw or .gz. */
  images: string;
  /** IDX file of labels [N] (uint8), raw or .gz. */
  labels: string;
  /** Default: the largest label + 1. */
  numClasses?: number;
  classNames?: readonly string[];
  name?: string;
}

/** Loads an image/label IDX pair (MNIST, Fashion-MNIST, KMNIST, ...) as an ImageDataset [N, 1, H, W]. */
export async function loadIdx(options: IdxDatasetOptions): Promise<ImageDataset> {
  if (!options || typeof options.images !== 'string' || typeof options.labels !== 'string') {
    throw new TypeError('loadIdx: options.images and options.labels must be file paths');
  }
  const [img, lab] = await Promise.all([readIdx(options.images), readIdx(options.labels)]);
  if (img.dims.length !== 3) {
    throw new DatasetError(`${img.file}: expected images of shape [N, H, W], header has [${img.dims.join(', ')}]`, { file: img.file });
  }
  if (lab.dims.length !== 1) {
    throw new DatasetError(`${lab.file}: expected labels of shape [N], header has [${lab.dims.join(', ')}]`, { file: lab.file });
  }
  const n = img.dims[0];
  if (lab.dims[0] !== n) {
    throw new DatasetError(`label count ${lab.dims[0]} (${lab.file}) does not match image count ${n} (${img.file})`, { file: lab.file });
  }
  let max = -1;
  for (let i = 0; i < n; i++) if (lab.data[i] > max) max = lab.data[i];
  const numClasses = options.numClasses ?? Math.max(max + 1, 1);
  if (max >= numClasses) {
    const at = lab.data.findIndex((v) => v >= numClasses);
    throw new DatasetError(`${lab.file}: label ${lab.data[at]} at index ${at} is not in [0, ${numClasses})`, { file: lab.file });
  }
  return datasetFromBytesAsync(img.data, [n, 1, img.dims[1], img.dims[2]], lab.data, {
    numClasses,
    classNames: options.classNames,
    name: options.name ?? 'idx',
  });
}
