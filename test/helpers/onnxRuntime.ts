// Runs an ONNX file in onnxruntime-node in a child Node process: in jest's per-file sandbox,
// onnxruntime-common's instanceof checks reject the binding's main-realm typed arrays, and a
// plain process is what users run anyway.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const SCRIPT = `
const fs = require('fs');
const ort = require('onnxruntime-node');
const [file, inputFile, dimsJson] = process.argv.slice(1);
(async () => {
  const bytes = fs.readFileSync(inputFile);
  const data = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  const session = await ort.InferenceSession.create(file);
  const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', data, JSON.parse(dimsJson)) });
  const name = session.outputNames[0];
  const meta = { inputs: session.inputNames, outputs: session.outputNames, name, dims: out[name].dims, data: Array.from(out[name].data) };
  await session.release();
  process.stdout.write(JSON.stringify(meta));
})().catch((e) => { process.stderr.write(String(e && e.stack || e)); process.exit(1); });
`;

export interface OnnxRun {
  inputs: string[];
  outputs: string[];
  /** The first output's name, dims and values. */
  name: string;
  dims: number[];
  data: Float32Array;
}

/** `input` is fed to the model's (only) input with shape `dims`. */
export function runOnnx(file: string, input: Float32Array, dims: number[]): OnnxRun {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mssl-ort-'));
  try {
    const inputFile = path.join(tmp, 'input.f32');
    fs.writeFileSync(inputFile, Buffer.from(input.buffer, input.byteOffset, input.byteLength));
    const r = spawnSync(process.execPath, ['-e', SCRIPT, file, inputFile, JSON.stringify(dims)], {
      cwd: path.resolve(__dirname, '..', '..'),
      encoding: 'utf8',
      timeout: 120000,
      maxBuffer: 64 << 20,
    });
    if (r.status !== 0) throw new Error(`onnxruntime-node failed (status ${r.status}): ${r.stderr || r.error}`);
    const out = JSON.parse(r.stdout) as Omit<OnnxRun, 'data'> & { data: number[] };
    return { ...out, data: Float32Array.from(out.data) };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** uint8 pixels as the exported graph takes them: float32 in [0, 1]. */
export function unitPixels(pixels: Uint8Array): Float32Array {
  return Float32Array.from(pixels, (v) => v / 255);
}
