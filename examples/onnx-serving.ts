// (a) Pretrain → export ONNX → embed new images with onnxruntime-node.
//
// Trains SimCLR with projector-only momentum for a few hundred steps, writes the backbone as
// ONNX, then serves it the way a Node service would: onnxruntime-node, no LibTorch involved,
// images resized to the training size and divided by 255 (the model's metadata says so).
//   npx ts-node --transpile-only examples/onnx-serving.ts            (Fashion-MNIST; DATASET=dir|name, STEPS=n)
import * as ort from 'onnxruntime-node';

import { configFor, openDataset, SslModel, Trainer } from '../lib';

async function main(): Promise<void> {
  const dataset = process.env.DATASET ?? 'fashion-mnist';
  const steps = Number(process.env.STEPS ?? 300);
  const train = await openDataset(dataset, 'train', { subset: Number(process.env.SUBSET ?? 10000) });
  const test = await openDataset(dataset, 'test', { subset: 64 });
  const [, c, h] = train.images.shape;
  const model = SslModel.create(configFor('simclr', { ema: 'projector' }, { backbone: { inChannels: c as 1 | 3 }, augment: { outSize: h }, totalSteps: steps }));
  await new Trainer(model, train, { batchSize: 64, epochs: 1000, maxSteps: steps, progress: 'none' }).fit();

  const file = 'backbone.onnx';
  await model.exportOnnx(file);
  const session = await ort.InferenceSession.create(file);
  console.log(`exported ${file}: input ${session.inputNames}, output ${session.outputNames}`);

  // New images: uint8 [N, C, H, W] at the training size → float32 in [0, 1].
  const pixels = test.images.toTypedArray() as Uint8Array;
  const input = new ort.Tensor('float32', Float32Array.from(pixels, (v) => v / 255), test.images.shape);
  const { features } = await session.run({ images: input });
  console.log(`onnxruntime-node: ${features.dims.join('×')} features`);

  // Same numbers as the package's own embed().
  const ref = (await model.embedArray(test.images)).data;
  const out = features.data as Float32Array;
  const scale = ref.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  const maxRel = out.reduce((m, v, i) => Math.max(m, Math.abs(v - ref[i]) / scale), 0);
  console.log(`max relative difference to model.embed: ${maxRel.toExponential(2)}`);
  await session.release();
  for (const x of [model, train, test]) x.dispose();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
