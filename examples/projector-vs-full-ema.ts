// (e) Projector-only momentum vs full EMA on the same seed: accuracy and step time.
//
// The paper's cheap variant keeps an EMA copy of the projector only (keys reuse the online
// backbone features); full EMA runs a second backbone forward per view. Same seed = same
// initialisation and data order, so the difference is the EMA wiring alone.
//   npx ts-node --transpile-only examples/projector-vs-full-ema.ts   (DATASET=dir|name, STEPS=n, SUBSET=n)
import { configFor, knnClassify, openDataset, SslModel, Trainer } from '../lib';

async function main(): Promise<void> {
  const dataset = process.env.DATASET ?? 'fashion-mnist';
  const steps = Number(process.env.STEPS ?? 200);
  const train = await openDataset(dataset, 'train', { subset: Number(process.env.SUBSET ?? 10000) });
  const test = await openDataset(dataset, 'test', { subset: Number(process.env.SUBSET ?? 2000) });
  const [, c, h] = train.images.shape;
  for (const ema of ['projector', 'full'] as const) {
    const model = SslModel.create(configFor('simclr', { ema }, { seed: 0, backbone: { inChannels: c as 1 | 3 }, augment: { outSize: h }, totalSteps: steps }));
    const fit = await new Trainer(model, train, { batchSize: 64, epochs: 1000, maxSteps: steps, seed: 0, progress: 'none' }).fit();
    const [a, b] = [await model.embed(train.images), await model.embed(test.images)];
    const knn = await knnClassify(a, train.labels, b, test.labels);
    knn.predictions.dispose();
    console.log(`SimCLR + ${ema.padEnd(9)} EMA: kNN top-1 ${(100 * knn.top1).toFixed(2)}%, ${(fit.elapsedMs / fit.steps).toFixed(0)} ms/step over ${fit.steps} steps`);
    for (const x of [a, b, model]) x.dispose();
  }
  train.dispose();
  test.dispose();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
