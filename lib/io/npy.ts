// NumPy .npy (format 1.0) for features and labels that other tools read: numpy.load(), or the
// header parsed by hand (magic \x93NUMPY, version, header length, Python-dict header).
import * as fs from 'fs';

/** NumPy .npy (format 1.0) bytes of a C-order array. */
export function npyBytes(data: Float32Array | BigInt64Array, shape: readonly number[]): Buffer {
  const descr = data instanceof Float32Array || Object.prototype.toString.call(data) === '[object Float32Array]' ? '<f4' : '<i8';
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  // magic(6) + version(2) + header length(2) + header, padded with spaces to a multiple of 64, ending in \n.
  const total = Math.ceil((10 + header.length + 1) / 64) * 64;
  header = header.padEnd(total - 10 - 1, ' ') + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  return Buffer.concat([head, Buffer.from(header, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
}

/** Parses a .npy file written by npyBytes (float32 or int64, C order). */
export function readNpy(file: string): { shape: number[]; data: Float32Array | BigInt64Array } {
  const buf = fs.readFileSync(file);
  if (buf.toString('latin1', 0, 6) !== '\x93NUMPY') throw new Error(`${file}: not a .npy file`);
  const hlen = buf[6] === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = buf[6] === 1 ? 10 : 12;
  const header = buf.toString('latin1', start, start + hlen);
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const shape = (/'shape':\s*\(([^)]*)\)/.exec(header)?.[1] ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  const bytes = buf.subarray(start + hlen);
  const copy = new Uint8Array(bytes).buffer;
  if (descr === '<f4') return { shape, data: new Float32Array(copy) };
  if (descr === '<i8') return { shape, data: new BigInt64Array(copy) };
  throw new Error(`${file}: unsupported dtype ${descr}`);
}

