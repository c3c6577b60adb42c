// (b) Embeddings → a classifier in @tensorflow/tfjs (pure JS), next to the package's linear probe.
//
// A Node team that already computes with tfjs takes momentum-ssl features as plain Float32Arrays
// (model.embedArray) and trains its own softmax layer on them; the package's L-BFGS linear probe
// on the same features is the reference accuracy.
//   npx ts-node --transpile-only examples/tfjs-classifier.ts   (DATASET=dir|name, STEPS=n, SUBSET=n)
import * as tf from '@tensorflow/tfjs';

import { configFor, linearProbe, openDataset, SslModel, Trainer } from '../lib';

async function main(): Promise<void> {
  const dataset = process.env.DATASET ?? 'fashion-mnist';
  const steps = Number(process.env.STEPS ?? 300);
  const train = await openDataset(dataset, 'train', { subset: Number(process.env.SUBSET ?? 5000) });
  const test = await openDataset(dataset, 'test', { subset: Number(process.env.SUBSET ?? 5000) });
  const [, c, h] = train.images.shape;
  const model = SslModel.create(configFor('simclr', { ema: 'projector' }, { backbone: { inChannels: c as 1 | 3 }, augment: { outSize: h }, totalSteps: steps }));
  await new Trainer(model, train, { batchSize: 64, epochs: 1000, maxSteps: steps, progress: 'none' }).fit();

  const fTrain = await model.embedArray(train.images);
  const fTest = await model.embedArray(test.images);
  const yTrain = Array.from(train.labels.toTypedArray() as BigInt64Array, Number);
  const yTest = Array.from(test.labels.toTypedArray() as BigInt64Array, Number);
  const k = train.numClasses;

  // tfjs: standardised features → one dense softmax layer, Adam.
  const xs = tf.tensor2d(fTrain.data, fTrain.shape);
  const { mean, variance } = tf.moments(xs, 0);
  const std = variance.sqrt().add(1e-6);
  const norm = (x: tf.Tensor2D) => x.sub(mean).div(std);
  const clf = tf.sequential({ layers: [tf.layers.dense({ inputShape: [fTrain.shape[1]], units: k, activation: 'softmax' })] });
  clf.compile({ optimizer: tf.train.adam(0.01), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  await clf.fit(norm(xs), tf.tensor1d(yTrain, 'float32'), { epochs: Number(process.env.TF_EPOCHS ?? 30), batchSize: 256, verbose: 0 });
  const pred = Array.from((clf.predict(norm(tf.tensor2d(fTest.data, fTest.shape))) as tf.Tensor2D).argMax(1).dataSync());
  const tfAcc = pred.reduce((n, p, i) => n + (p === yTest[i] ? 1 : 0), 0) / yTest.length;

  // The package's own linear probe on the same features.
  const [a, b] = [await model.embed(train.images), await model.embed(test.images)];
  const probe = await linearProbe(a, train.labels, b, test.labels);
  console.log(`tfjs softmax classifier: ${(100 * tfAcc).toFixed(2)}% test accuracy`);
  console.log(`momentum-ssl linearProbe: ${(100 * probe.testAccuracy).toFixed(2)}% test accuracy`);
  for (const x of [a, b, model, train, test]) x.dispose();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
