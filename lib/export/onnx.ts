// ONNX export of a model's eval-mode network for onnxruntime-node and other ONNX runtimes.
//
// The graph is written from the weights the native model hands out (SslModel.namedTensors): no
// tensor math happens here, BatchNorm stays a BatchNormalization node. Input `images`: float32
// [N, C, H, W] pixel values in [0, 1] (uint8 / 255) with dynamic N, H, W; the package's per-channel
// normalisation is the graph's first two nodes (Sub, Div). Output `features` [N, F] (the backbone
// after global average pooling), or `projection` [N, D] with the projector. The resize to the
// training size is left to the caller and described in metadata_props (key `preprocessing`).
import * as fs from 'fs';
import * as path from 'path';

import { onnx } from 'onnx-proto';

import type { SslModel } from '../model';
import { packageRoot } from '../native';
import type { Tensor } from '../tensor';
import { evalPreprocessing } from './evalPreprocessing';

export type OnnxInclude = 'backbone' | 'backbone+projector';
export const ONNX_INCLUDES: readonly OnnxInclude[] = ['backbone', 'backbone+projector'];

export interface OnnxExportOptions {
  /** What the graph computes (default 'backbone'). */
  include?: OnnxInclude;
  /** ONNX opset of the default domain, ONNX_OPSETS.min..max (default 17). */
  opset?: number;
  /** Take the EMA weights of the EMA parts (the online weights of the others). */
  ema?: boolean;
}

export const ONNX_EXPORT_DEFAULTS = Object.freeze({ include: 'backbone' as OnnxInclude, opset: 17, ema: false });
/** Opsets in which every node written here has the meaning used (Gemm without C needs 11). */
export const ONNX_OPSETS = Object.freeze({ min: 11, max: 21 });

// The IR version that introduced each opset (onnx/helper.py VERSION_TABLE): the oldest IR a
// runtime must read, so older runtimes load the file too.
function irVersionFor(opset: number): number {
  if (opset <= 11) return 6;
  if (opset <= 13) return 7;
  if (opset <= 18) return 8;
  if (opset <= 20) return 9;
  return 10;
}

// torch.nn.BatchNorm{1,2}d's default, which the native model uses.
const BN_EPSILON = 1e-5;

const { AttributeType } = onnx.AttributeProto;
type Attr = number | number[];

/** Nodes and initializers of one graph; names of values are returned by each method. */
class GraphBuilder {
  readonly nodes: onnx.INodeProto[] = [];
  readonly initializers: onnx.ITensorProto[] = [];
  private readonly used = new Set<string>();

  constructor(private readonly weights: Map<string, Tensor>) {}

  /** The named weight as an initializer (added once). */
  weight(name: string): string {
    if (!this.used.has(name)) {
      const t = this.weights.get(name);
      if (!t) throw new Error(`exportOnnx: the model has no tensor '${name}'`);
      this.add(name, t.toTypedArray() as Float32Array, t.shape);
    }
    return name;
  }

  has(name: string): boolean {
    return this.weights.has(name);
  }

  shape(name: string): number[] {
    const t = this.weights.get(name);
    if (!t) throw new Error(`exportOnnx: the model has no tensor '${name}'`);
    return t.shape;
  }

  constant(name: string, data: Float32Array, dims: number[]): string {
    this.add(name, data, dims);
    return name;
  }

  node(op: string, inputs: string[], output: string, attrs: Record<string, Attr> = {}): string {
    const attribute = Object.entries(attrs).map(([name, v]): onnx.IAttributeProto =>
      Array.isArray(v)
        ? { name, type: AttributeType.INTS, ints: v }
        : Number.isInteger(v) ? { name, type: AttributeType.INT, i: v } : { name, type: AttributeType.FLOAT, f: v },
    );
    this.nodes.push({ opType: op, input: inputs, output: [output], name: output, attribute });
    return output;
  }

  private add(name: string, data: Float32Array, dims: number[]): void {
    this.used.add(name);
    // raw_data is little-endian, as Float32Array is on every platform the addon builds for.
    this.initializers.push({ name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) });
  }
}

// Convolutions of the ResNet: no bias, "same" padding k/2 (7→3, 3→1, 1→0).
function conv(g: GraphBuilder, prefix: string, x: string, stride: number): string {
  const w = g.weight(`${prefix}.weight`);
  const k = g.shape(w)[2];
  const p = Math.floor(k / 2);
  return g.node('Conv', [x, w], prefix, { kernel_shape: [k, k], strides: [stride, stride], pads: [p, p, p, p] });
}

function batchNorm(g: GraphBuilder, prefix: string, x: string, scale?: string, bias?: string): string {
  const inputs = [x, scale ?? g.weight(`${prefix}.weight`), bias ?? g.weight(`${prefix}.bias`), g.weight(`${prefix}.running_mean`), g.weight(`${prefix}.running_var`)];
  return g.node('BatchNormalization', inputs, prefix, { epsilon: BN_EPSILON });
}

const relu = (g: GraphBuilder, x: string, name: string): string => g.node('Relu', [x], name);

// torchvision's BasicBlock / Bottleneck (v1.5: the stride on the 3×3 conv).
function block(g: GraphBuilder, prefix: string, x: string, stride: number, bottleneck: boolean): string {
  let h: string;
  if (bottleneck) {
    h = relu(g, batchNorm(g, `${prefix}.bn1`, conv(g, `${prefix}.conv1`, x, 1)), `${prefix}.relu1`);
    h = relu(g, batchNorm(g, `${prefix}.bn2`, conv(g, `${prefix}.conv2`, h, stride)), `${prefix}.relu2`);
    h = batchNorm(g, `${prefix}.bn3`, conv(g, `${prefix}.conv3`, h, 1));
  } else {
    h = relu(g, batchNorm(g, `${prefix}.bn1`, conv(g, `${prefix}.conv1`, x, stride)), `${prefix}.relu1`);
    h = batchNorm(g, `${prefix}.bn2`, conv(g, `${prefix}.conv2`, h, 1));
  }
  const identity = g.has(`${prefix}.downsample.0.weight`)
    ? batchNorm(g, `${prefix}.downsample.1`, conv(g, `${prefix}.downsample.0`, x, stride))
    : x;
  return relu(g, g.node('Add', [h, identity], `${prefix}.add`), `${prefix}.out`);
}

function backbone(g: GraphBuilder, model: SslModel, input: string): string {
  const cfg = model.config.backbone;
  const pre = evalPreprocessing(model.config);
  const dims = [1, pre.channels, 1, 1];
  let x = g.node('Sub', [input, g.constant('preprocess.mean', Float32Array.from(pre.mean), dims)], 'preprocess.sub');
  x = g.node('Div', [x, g.constant('preprocess.std', Float32Array.from(pre.std), dims)], 'preprocess.div');
  const imagenet = cfg.stem === 'imagenet';
  x = relu(g, batchNorm(g, 'bn1', conv(g, 'conv1', x, imagenet ? 2 : 1)), 'relu');
  if (imagenet) x = g.node('MaxPool', [x], 'maxpool', { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] });
  for (let s = 1; s <= 4; ++s) {
    for (let b = 0; g.has(`layer${s}.${b}.conv1.weight`); ++b) {
      x = block(g, `layer${s}.${b}`, x, s > 1 && b === 0 ? 2 : 1, cfg.depth === 50);
    }
  }
  return g.node('Flatten', [g.node('GlobalAveragePool', [x], 'avgpool')], 'flatten', { axis: 1 });
}

// The projector Mlp (native/core/mlp.h): Linear → BatchNorm1d → ReLU → Linear [→ BatchNorm1d
// without affine]. Gemm with transB computes x·Wᵀ + b, torch's Linear.
function projector(g: GraphBuilder, x: string): string {
  const linear = (name: string, h: string): string =>
    g.node('Gemm', g.has(`${name}.bias`) ? [h, g.weight(`${name}.weight`), g.weight(`${name}.bias`)] : [h, g.weight(`${name}.weight`)], name, { transB: 1 });
  let h = relu(g, batchNorm(g, 'projector.1', linear('projector.0', x)), 'projector.2');
  h = linear('projector.3', h);
  if (g.has('projector.4.running_mean')) {
    // affine=false: BatchNormalization needs scale and bias inputs, so they are 1 and 0.
    const d = g.shape('projector.3.weight')[0];
    h = batchNorm(g, 'projector.4', h, g.constant('projector.4.scale', new Float32Array(d).fill(1), [d]), g.constant('projector.4.shift', new Float32Array(d), [d]));
  }
  return h;
}

function checkOptions(options: OnnxExportOptions): Required<OnnxExportOptions> {
  if (options === null || typeof options !== 'object') throw new TypeError('exportOnnx: options must be an object');
  // An explicit `undefined` means the default, as an omitted field does.
  const o = { include: options.include ?? ONNX_EXPORT_DEFAULTS.include, opset: options.opset ?? ONNX_EXPORT_DEFAULTS.opset, ema: options.ema ?? ONNX_EXPORT_DEFAULTS.ema };
  if (!ONNX_INCLUDES.includes(o.include)) {
    throw new TypeError(`exportOnnx: include must be one of ${ONNX_INCLUDES.map((s) => `'${s}'`).join(', ')}; got ${JSON.stringify(o.include)}`);
  }
  if (typeof o.opset !== 'number' || !Number.isInteger(o.opset) || o.opset < ONNX_OPSETS.min || o.opset > ONNX_OPSETS.max) {
    throw new RangeError(`exportOnnx: opset must be an integer in ${ONNX_OPSETS.min}..${ONNX_OPSETS.max} (the opsets this exporter writes); got ${JSON.stringify(o.opset)}`);
  }
  if (typeof o.ema !== 'boolean') throw new TypeError(`exportOnnx: ema must be a boolean; got ${JSON.stringify(o.ema)}`);
  return o;
}

function checkOutputPath(file: string): void {
  if (typeof file !== 'string' || file === '') throw new TypeError('exportOnnx: path must be a non-empty string');
  const dir = path.dirname(path.resolve(file));
  let isDir = false;
  try {
    isDir = fs.statSync(dir).isDirectory();
  } catch {
    // reported below
  }
  if (!isDir) throw new Error(`exportOnnx: cannot write '${file}': folder '${dir}' does not exist`);
}

function valueInfo(name: string, dims: (number | string)[]): onnx.IValueInfoProto {
  const dim = dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d }));
  return { name, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim } } } };
}

function packageVersion(): string {
  return (JSON.parse(fs.readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;
}

/** The ONNX model of `model`'s eval-mode network as protobuf bytes (see exportOnnx). */
export async function onnxModelBytes(model: SslModel, options: OnnxExportOptions = {}): Promise<Uint8Array> {
  const o = checkOptions(options);
  if (model.disposed) {
    throw Object.assign(new Error('exportOnnx: the model has been disposed'), { code: 'ERR_DISPOSED' });
  }
  const withProjector = o.include === 'backbone+projector';
  const named = [...(await model.namedTensors('backbone', { ema: o.ema }))];
  try {
    if (withProjector && model.config.projector.prototypes > 0) {
      throw new TypeError("exportOnnx: include 'backbone+projector' does not export DINO's prototype layer (projector.prototypes > 0); export include 'backbone'");
    }
    if (withProjector) for (const [k, t] of await model.namedTensors('projector', { ema: o.ema })) named.push([`projector.${k}`, t]);
    const g = new GraphBuilder(new Map(named));
    let out = backbone(g, model, 'images');
    if (withProjector) out = projector(g, out);
    const outName = withProjector ? 'projection' : 'features';
    g.node('Identity', [out], outName);
    const pre = evalPreprocessing(model.config);
    const outDim = withProjector ? model.config.projector.outDim : model.summary().featureDim;
    const graph: onnx.IGraphProto = {
      name: `momentum-ssl resnet${model.config.backbone.depth}${withProjector ? ' + projector' : ''}`,
      node: g.nodes,
      initializer: g.initializers,
      input: [valueInfo('images', ['N', pre.channels, 'H', 'W'])],
      output: [valueInfo(outName, ['N', outDim])],
    };
    const preprocessing = {
      input: `images: float32 [N, ${pre.channels}, H, W], NCHW, pixel values in [0, 1] (uint8 / 255)`,
      resize: { size: [pre.size, pre.size], mode: 'bilinear', alignCorners: false },
      scale: pre.scale,
      mean: pre.mean,
      std: pre.std,
      normalisationInGraph: true,
    };
    const m: onnx.IModelProto = {
      irVersion: irVersionFor(o.opset),
      opsetImport: [{ domain: '', version: o.opset }],
      producerName: 'momentum-ssl',
      producerVersion: packageVersion(),
      docString: `${outName} of a momentum-ssl model (${model.signature()}), eval mode. Resize images to ${pre.size}x${pre.size} (bilinear), divide by 255; (x - mean) / std happens inside.`,
      graph,
      metadataProps: [
        { key: 'preprocessing', value: JSON.stringify(preprocessing) },
        { key: 'momentum_ssl.include', value: o.include },
        { key: 'momentum_ssl.ema', value: String(o.ema) },
        { key: 'momentum_ssl.signature', value: model.signature() },
      ],
    };
    return onnx.ModelProto.encode(onnx.ModelProto.create(m)).finish();
  } finally {
    for (const [, t] of named) t.dispose();
  }
}

/**
 * Writes `model`'s eval-mode network as an ONNX file (atomically: temp file + rename).
 * @throws TypeError for an unknown `include`, RangeError for an opset outside ONNX_OPSETS, Error
 *   for a disposed model or an output path whose folder does not exist.
 * @example await exportOnnx(model, 'resnet18.onnx', { include: 'backbone' });
 */
export async function exportOnnx(model: SslModel, file: string, options: OnnxExportOptions = {}): Promise<string> {
  checkOptions(options);
  checkOutputPath(file);
  const bytes = await onnxModelBytes(model, options);
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, bytes);
  fs.renameSync(tmp, file);
  return file;
}
