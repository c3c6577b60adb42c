// `momentum-ssl export`: ONNX and torchvision output of a run folder, and its usage errors.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { main } from '../../../lib/cli';
import { memory, SslModel, Tensor } from '../../../lib';
import type { DeepPartial, SslConfig } from '../../../lib';
import { writeRunInfo } from '../../../lib/train/runInfo';
import { runOnnx, unitPixels } from '../../helpers/onnxRuntime';

async function run(args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await main(args, { out: (s) => (stdout += s), err: (s) => (stderr += s) });
  return { code, stdout, stderr };
}

/** A run folder as pretrain leaves it (checkpoint.pt + run.json), without training. */
async function writeRun(dir: string, config: DeepPartial<SslConfig>): Promise<SslModel> {
  fs.mkdirSync(dir, { recursive: true });
  const model = SslModel.create(config);
  await model.save(path.join(dir, 'checkpoint.pt'));
  writeRunInfo(path.join(dir, 'run.json'), { format: 'momentum-ssl-run', version: 1, method: 'simclr', dataset: 'none', subset: 0, seed: 0, batchSize: 8, epochs: 1, steps: 0, config: model.config });
  return model;
}

describe('momentum-ssl export', () => {
  let dir: string;
  let runA: string;
  let runB: string;
  let model: SslModel;
  let baseline: number;
  const config = { backbone: { width: 0.0625, inChannels: 1 as const }, projector: { hiddenDim: 16, outDim: 8 }, augment: { outSize: 16 } };
  beforeAll(async () => {
    baseline = memory().numTensors;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mssl-export-'));
    runA = path.join(dir, 'a');
    runB = path.join(dir, 'b');
    model = await writeRun(runA, config);
    (await writeRun(runB, { ...config, backbone: { depth: 34, width: 0.0625, inChannels: 1 } })).dispose();
  });
  afterAll(() => {
    model.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
    expect(memory().numTensors).toBe(baseline);
  });

  test('--format onnx writes a graph that onnxruntime-node runs to model.embed()\'s features', async () => {
    const file = path.join(dir, 'a.onnx');
    const r = await run(['export', '--checkpoint', runA, '--format', 'onnx', '--output', file]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toContain(`to ${file}`);
    const px = Uint8Array.from({ length: 2 * 256 }, (_, i) => (i * 37) % 256);
    const images = Tensor.from(px, [2, 1, 16, 16]);
    const f = await model.embed(images);
    const ref = f.toTypedArray() as Float32Array;
    images.dispose();
    f.dispose();
    const out = runOnnx(file, unitPixels(px), [2, 1, 16, 16]);
    expect(out.name).toBe('features');
    const scale = Math.max(...Array.from(ref, Math.abs));
    for (let i = 0; i < ref.length; i++) expect(Math.abs(out.data[i] - ref[i]) / scale).toBeLessThan(1e-4);

    const proj = path.join(dir, 'a-proj.onnx');
    expect((await run(['export', '--checkpoint', runA, '--format', 'onnx', '--include', 'backbone+projector', '--opset', '13', '--output', proj])).code).toBe(0);
    expect(runOnnx(proj, unitPixels(px), [2, 1, 16, 16]).outputs).toEqual(['projection']);
  });

  test('--format torchvision writes what model.exportStateDict writes', async () => {
    const file = path.join(dir, 'a.pt');
    expect((await run(['export', '--checkpoint', runA, '--format', 'torchvision', '--output', file])).code).toBe(0);
    const direct = path.join(dir, 'direct.pt');
    await model.exportStateDict(direct);
    expect(fs.readFileSync(file).equals(fs.readFileSync(direct))).toBe(true);
  });

  test('bad input: a checkpoint of another architecture names both signatures; usage errors exit 2', async () => {
    const other = await run(['export', '--checkpoint', path.join(runA, 'checkpoint.pt'), '--run-info', path.join(runB, 'run.json'), '--format', 'onnx', '--output', path.join(dir, 'x.onnx')]);
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/resnet18\/cifar\/c1.*resnet34\/cifar\/c1/);
    const usage: Array<[string[], RegExp]> = [
      [['--format', 'onnx', '--output', 'x.onnx'], /needs --checkpoint/],
      [['--checkpoint', runA, '--output', 'x.onnx'], /needs --format onnx\|torchvision/],
      [['--checkpoint', runA, '--format', 'keras', '--output', 'x.onnx'], /--format must be one of/],
      [['--checkpoint', runA, '--format', 'onnx', '--output', path.join(dir, 'missing', 'x.onnx')], /folder '.*missing' does not exist/],
      [['--checkpoint', runA, '--format', 'onnx', '--include', 'head', '--output', 'x.onnx'], /--include must be one of/],
      [['--checkpoint', runA, '--format', 'torchvision', '--opset', '13', '--output', 'x.pt'], /go with --format onnx/],
    ];
    for (const [args, re] of usage) {
      const r = await run(['export', ...args]);
      expect([args, r.code]).toEqual([args, 2]);
      expect(r.stderr).toMatch(re);
    }
    const opset = await run(['export', '--checkpoint', runA, '--format', 'onnx', '--opset', '7', '--output', path.join(dir, 'x.onnx')]);
    expect(opset.code).toBe(1);
    expect(opset.stderr).toMatch(/opset must be an integer in 11\.\.21/);
    expect(fs.existsSync(path.join(dir, 'x.onnx'))).toBe(false);
  });
});
