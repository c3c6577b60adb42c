// Every file in examples/ runs, on a tiny IDX dataset and a few steps, in its own Node process
// the way a user starts it (ts-node), and prints what its header promises.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { readNpy } from '../../lib/io/npy';
import { repoRoot } from '../helpers/child';
import { idxBytes } from '../helpers/files';
import { syntheticImages } from '../helpers/synthetic';

let dir: string;
let data: string;

function writeIdx(n: number, prefix: string, seed: number): void {
  const s = syntheticImages(n, 1, 16, seed, 4);
  const labels = Uint8Array.from({ length: n }, (_, i) => i % 4);
  fs.writeFileSync(path.join(data, `${prefix}-images-idx3-ubyte`), idxBytes([n, 16, 16], s.pixels));
  fs.writeFileSync(path.join(data, `${prefix}-labels-idx1-ubyte`), idxBytes([n], labels));
}

function example(file: string, args: string[] = [], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, ['-r', require.resolve('ts-node/register/transpile-only'), path.join(repoRoot, 'examples', file), ...args], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 240000,
    env: { ...process.env, TS_NODE_PROJECT: path.join(repoRoot, 'tsconfig.test.json'), MOMENTUM_SSL_NUM_THREADS: '2', DATASET: data, STEPS: '3', SUBSET: '0', ...env },
  });
  if (r.status !== 0) throw new Error(`${file} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mssl-examples-'));
  data = path.join(dir, 'data');
  fs.mkdirSync(data);
  writeIdx(128, 'train', 1);
  writeIdx(64, 't10k', 2);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('examples/', () => {
  test('(a) onnx-serving: onnxruntime-node embeds new images as model.embed does', () => {
    const out = example('onnx-serving.ts');
    expect(out).toContain('input images, output features');
    expect(out).toMatch(/onnxruntime-node: 64×128 features/);
    const rel = Number(/max relative difference to model.embed: (\S+)/.exec(out)![1]);
    expect(rel).toBeLessThan(1e-4);
  });

  test('(b) tfjs-classifier: a tfjs softmax layer and the linear probe on the same features', () => {
    const out = example('tfjs-classifier.ts', [], { TF_EPOCHS: '3' });
    expect(out).toMatch(/tfjs softmax classifier: \d+\.\d\d% test accuracy/);
    expect(out).toMatch(/momentum-ssl linearProbe: \d+\.\d\d% test accuracy/);
  });

  test('(c) custom-loop: steps with events and checkpoints, then a resumed run; abort stops it', () => {
    const ckpt = path.join(dir, 'loop.pt');
    const first = example('custom-loop.ts', [], { STEPS: '4', CKPT_EVERY: '2', CKPT: ckpt });
    expect(first).toMatch(/checkpoint .*loop\.pt at step 2/);
    expect(first).toContain('finished 4 steps');
    const second = example('custom-loop.ts', [], { STEPS: '6', CKPT_EVERY: '100', CKPT: ckpt });
    expect(second).toContain(`resumed from ${ckpt} at step 4`);
    expect(second).toContain('finished 6 steps');
    const aborted = example('custom-loop.ts', [], { STEPS: '1000', CKPT: path.join(dir, 'aborted.pt'), STOP_AFTER_MS: '1' });
    expect(aborted).toMatch(/aborted at step \d+/);
  });

  test('(d) folder-to-npy: class folders → features.npy and labels.npy', async () => {
    const sharp = (await import('sharp')).default;
    const root = path.join(dir, 'images');
    for (const [k, cls] of ['cat', 'dog'].entries()) {
      fs.mkdirSync(path.join(root, cls), { recursive: true });
      for (let i = 0; i < 3; i++) {
        const px = Buffer.alloc(20 * 20 * 3, 60 + 100 * k + 10 * i);
        await sharp(px, { raw: { width: 20, height: 20, channels: 3 } }).png().toFile(path.join(root, cls, `${i}.png`));
      }
    }
    const out = example('folder-to-npy.ts', [root, path.join(dir, 'pets')]);
    expect(out).toContain('6 images of 2 classes (cat, dog)');
    const f = readNpy(path.join(dir, 'pets.npy'));
    const l = readNpy(path.join(dir, 'pets-labels.npy'));
    expect(f.shape).toEqual([6, 128]);
    expect(Array.from(l.data as BigInt64Array, Number)).toEqual([0, 0, 0, 1, 1, 1]);
  });

  test('(e) projector-vs-full-ema: both configurations on the same seed, accuracy and step time', () => {
    const out = example('projector-vs-full-ema.ts', [], { STEPS: '2' });
    expect(out).toMatch(/SimCLR \+ projector EMA: kNN top-1 \d+\.\d\d%, \d+ ms\/step over 2 steps/);
    expect(out).toMatch(/SimCLR \+ full {6}EMA: kNN top-1 \d+\.\d\d%, \d+ ms\/step over 2 steps/);
  });
});
