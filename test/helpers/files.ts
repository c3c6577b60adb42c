// Shared test helpers for files: temp folders and IDX bytes.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export function tempDir(tag: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `mssl-data-${tag}-`));
}

export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/** IDX file bytes: magic 0x0000 08 nd, big-endian dims, then the data. */
export function idxBytes(dims: number[], data: Uint8Array, typeCode = 0x08): Buffer {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head[2] = typeCode;
  head[3] = dims.length;
  dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([head, Buffer.from(data)]);
}

export function num(a: ArrayLike<number | bigint>): number[] {
  return Array.from(a as ArrayLike<number | bigint>, (v) => Number(v));
}
