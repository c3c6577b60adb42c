// ONNX export parity: onnxruntime-node on the exported file gives model.embed()'s features (and the
// projector's output) for every backbone shape, after a few training steps so that the BatchNorm
// running statistics are not the trivial 0 / 1.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { onnx } from 'onnx-proto';

import { SslModel, memory } from '../../../lib';
import type { DeepPartial, SslConfig, BackboneConfig } from '../../../lib';
import { ONNX_OPSETS } from '../../../lib/export/onnx';
import { runOnnx, unitPixels } from '../../helpers/onnxRuntime';
import { syntheticImages } from '../../helpers/synthetic';

const TOL = 1e-4;
const BATCH = 6;

let dir: string;
let baseline: number;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mssl-onnx-'));
  baseline = memory().numTensors;
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
  expect(memory().numTensors).toBe(baseline);
});

function config(backbone: Partial<BackboneConfig>, size: number, over: DeepPartial<SslConfig> = {}, defaultNormalisation = false): DeepPartial<SslConfig> {
  // A non-default mean/std checks the normalisation nodes; the default (null) checks its value.
  const normalisation = defaultNormalisation ? {} : backbone.inChannels === 1 ? { mean: [0.3], std: [0.2] } : { mean: [0.4, 0.5, 0.6], std: [0.2, 0.25, 0.3] };
  return {
    backbone,
    projector: { hiddenDim: 24, outDim: 12 },
    augment: { outSize: size, scale: [0.3, 1], ...normalisation },
    optimizer: { lr: 0.05, weightDecay: 0 },
    totalSteps: 10,
    ...over,
  };
}

/** max |a − b| / max |b|: relative to the scale of the reference. */
function maxRelDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let scale = 0;
  let diff = 0;
  for (let i = 0; i < b.length; i++) {
    scale = Math.max(scale, Math.abs(b[i]));
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
  }
  return diff / scale;
}

/** The projector on given features in plain JS from its exported weights (test reference only). */
function projectorReference(features: Float32Array, n: number, w: Map<string, Float32Array>, hidden: number, out: number): Float32Array {
  const inDim = features.length / n;
  const linear = (x: Float32Array, W: Float32Array, b: Float32Array, i: number, o: number) => {
    const y = new Float32Array(n * o);
    for (let r = 0; r < n; r++) for (let j = 0; j < o; j++) {
      let s = b[j];
      for (let k = 0; k < i; k++) s += x[r * i + k] * W[j * i + k];
      y[r * o + j] = s;
    }
    return y;
  };
  const h = linear(features, w.get('0.weight')!, w.get('0.bias')!, inDim, hidden);
  const [g, beta, mu, v] = ['1.weight', '1.bias', '1.running_mean', '1.running_var'].map((k) => w.get(k)!);
  for (let r = 0; r < n; r++) for (let j = 0; j < hidden; j++) {
    const z = ((h[r * hidden + j] - mu[j]) / Math.sqrt(v[j] + 1e-5)) * g[j] + beta[j];
    h[r * hidden + j] = Math.max(0, z);
  }
  return linear(h, w.get('3.weight')!, w.get('3.bias')!, hidden, out);
}

const ARCHS: Array<[string, Partial<BackboneConfig>, number, boolean]> = [
  ['ResNet-18, CIFAR stem, 1 channel, width 0.125, default normalisation', { depth: 18, stem: 'cifar', inChannels: 1, width: 0.125 }, 16, true],
  ['ResNet-18, ImageNet stem, 3 channels, width 0.1', { depth: 18, stem: 'imagenet', inChannels: 3, width: 0.1 }, 32, false],
  ['ResNet-34, CIFAR stem, 3 channels, width 0.0625', { depth: 34, stem: 'cifar', inChannels: 3, width: 0.0625 }, 16, false],
  ['ResNet-34, ImageNet stem, 1 channel, width 0.0625', { depth: 34, stem: 'imagenet', inChannels: 1, width: 0.0625 }, 32, false],
  ['ResNet-50, CIFAR stem, 3 channels, width 0.0625', { depth: 50, stem: 'cifar', inChannels: 3, width: 0.0625 }, 16, false],
  ['ResNet-50, ImageNet stem, 1 channel, width 0.0625', { depth: 50, stem: 'imagenet', inChannels: 1, width: 0.0625 }, 32, false],
];

describe('exportOnnx parity with model.embed (onnxruntime-node)', () => {
  test.each(ARCHS)('%s', async (_name, backbone, size, defaultNormalisation) => {
    const c = backbone.inChannels!;
    const data = syntheticImages(BATCH * 2, c, size, 3);
    const model = SslModel.create(config(backbone, size, {}, defaultNormalisation));
    try {
      for (let s = 0; s < 3; s++) {
        const { images, index } = data.batch(s % 2, BATCH);
        await model.step(images, index);
        images.dispose();
        index.dispose();
      }
      const { images, index } = data.batch(0, BATCH);
      index.dispose();
      const pixels = data.pixels.subarray(0, BATCH * c * size * size);
      const feats = await model.embed(images);
      images.dispose();
      const ref = feats.toTypedArray() as Float32Array;
      const featureDim = feats.shape[1];
      feats.dispose();

      const file = path.join(dir, 'backbone.onnx');
      await model.exportOnnx(file);
      const out = runOnnx(file, unitPixels(pixels), [BATCH, c, size, size]);
      expect(out.name).toBe('features');
      expect(out.dims).toEqual([BATCH, featureDim]);
      expect(maxRelDiff(out.data, ref)).toBeLessThan(TOL);

      const projFile = path.join(dir, 'projector.onnx');
      await model.exportOnnx(projFile, { include: 'backbone+projector' });
      const proj = runOnnx(projFile, unitPixels(pixels), [BATCH, c, size, size]);
      expect(proj.name).toBe('projection');
      const weights = new Map<string, Float32Array>();
      for (const [k, t] of await model.namedTensors('projector')) {
        if (t.dtype === 'float32') weights.set(k, t.toTypedArray() as Float32Array);
        t.dispose();
      }
      expect(proj.dims).toEqual([BATCH, 12]);
      expect(maxRelDiff(proj.data, projectorReference(ref, BATCH, weights, 24, 12))).toBeLessThan(TOL);
    } finally {
      model.dispose();
    }
  });
});

describe('exportOnnx graph', () => {
  let model: SslModel;
  beforeAll(() => {
    model = SslModel.create(config({ depth: 18, stem: 'cifar', inChannels: 3, width: 0.0625 }, 16, { ema: { parts: 'projector', base: 0.9, final: 0.9 } }));
  });
  afterAll(() => model.dispose());

  test('one input images [N, C, H, W] and one output, both with dynamic sizes; preprocessing in metadata_props', async () => {
    const file = path.join(dir, 'meta.onnx');
    await model.exportOnnx(file, { opset: 13 });
    const m = onnx.ModelProto.decode(fs.readFileSync(file));
    expect(m.opsetImport.map((o) => Number(o.version))).toEqual([13]);
    const dims = (v: onnx.IValueInfoProto) => v.type!.tensorType!.shape!.dim!.map((d) => d.dimParam || Number(d.dimValue));
    const graph = m.graph as onnx.GraphProto;
    expect(graph.input.map((i) => i.name)).toEqual(['images']);
    expect(dims(graph.input[0])).toEqual(['N', 3, 'H', 'W']);
    expect(graph.output.map((o) => o.name)).toEqual(['features']);
    expect(dims(graph.output[0])).toEqual(['N', 32]);
    const ops = new Set(graph.node.map((n) => n.opType));
    expect([...ops].sort()).toEqual(['Add', 'BatchNormalization', 'Conv', 'Div', 'Flatten', 'GlobalAveragePool', 'Identity', 'Relu', 'Sub']);
    const meta = Object.fromEntries(m.metadataProps.map((p) => [p.key, p.value]));
    expect(JSON.parse(meta.preprocessing)).toMatchObject({ resize: { size: [16, 16], mode: 'bilinear' }, scale: 1 / 255, mean: [0.4, 0.5, 0.6], std: [0.2, 0.25, 0.3] });
    expect(meta['momentum_ssl.signature']).toBe(model.signature());

    // Another batch size and image size than the export saw: dynamic N, H, W.
    const px = new Uint8Array(3 * 3 * 24 * 20).fill(128);
    const out = runOnnx(file, unitPixels(px), [3, 3, 24, 20]);
    expect([out.inputs, out.outputs]).toEqual([['images'], ['features']]);
    expect(out.dims).toEqual([3, 32]);
  });

  test.each([ONNX_OPSETS.min, ONNX_OPSETS.max])('opset %d loads and runs in onnxruntime-node', async (opset) => {
    const file = path.join(dir, `opset${opset}.onnx`);
    await model.exportOnnx(file, { opset, include: 'backbone+projector', ema: true });
    const out = runOnnx(file, unitPixels(new Uint8Array(2 * 3 * 16 * 16).fill(30)), [2, 3, 16, 16]);
    expect(out.dims).toEqual([2, 12]);
  });

  test('ema: the EMA projector is exported', async () => {
    // One step so the online and EMA projectors differ.
    const data = syntheticImages(8, 3, 16, 5);
    const { images, index } = data.batch(0, 8);
    await model.step(images, index);
    images.dispose();
    index.dispose();
    const online = await model.namedTensors('projector');
    const ema = await model.namedTensors('projector', { ema: true });
    const a = online.find(([k]) => k === '0.weight')![1].toTypedArray() as Float32Array;
    const b = ema.find(([k]) => k === '0.weight')![1].toTypedArray() as Float32Array;
    expect(maxRelDiff(a, b)).toBeGreaterThan(0);
    for (const [, t] of [...online, ...ema]) t.dispose();
  });

  test('bad input: unknown include, unwritable opset, missing folder, disposed model', async () => {
    await expect(model.exportOnnx(path.join(dir, 'x.onnx'), { include: 'projector' as never })).rejects.toThrow(
      "exportOnnx: include must be one of 'backbone', 'backbone+projector'; got \"projector\"",
    );
    await expect(model.exportOnnx(path.join(dir, 'x.onnx'), { opset: 7 })).rejects.toThrow(`opset must be an integer in ${ONNX_OPSETS.min}..${ONNX_OPSETS.max}`);
    await expect(model.exportOnnx(path.join(dir, 'x.onnx'), { opset: 12.5 })).rejects.toThrow('opset must be an integer');
    await expect(model.exportOnnx(path.join(dir, 'no', 'such', 'x.onnx'))).rejects.toThrow(/folder '.*no[/\\]such' does not exist/);
    await expect(model.namedTensors('head' as never)).rejects.toThrow("which must be 'backbone' or 'projector'");
    const other = SslModel.create(config({ depth: 18, stem: 'cifar', inChannels: 1, width: 0.0625 }, 16));
    await expect(other.namedTensors('backbone', { ema: true })).rejects.toThrow('the model has no EMA parts');
    other.dispose();
    await expect(other.exportOnnx(path.join(dir, 'x.onnx'))).rejects.toThrow('exportOnnx: the model has been disposed');
    expect(fs.existsSync(path.join(dir, 'x.onnx'))).toBe(false);
  });
});
