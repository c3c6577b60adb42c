// (c) A custom training loop on SslModel.step: events, abort and checkpoints without Trainer.
//
// model.step() is one whole training step off the event loop; everything around it — sampling,
// logging, stopping, saving — is ordinary Node code. Ctrl-C (or the STOP_AFTER_MS timer) aborts
// after the current step; a checkpoint is written every CKPT_EVERY steps and at the end, and a
// second run resumes from it.
//   npx ts-node --transpile-only examples/custom-loop.ts   (DATASET=dir|name, STEPS=n, CKPT=file)
import { EventEmitter } from 'events';
import * as fs from 'fs';

import { configFor, openDataset, SslModel, StepResult } from '../lib';

async function main(): Promise<void> {
  const dataset = process.env.DATASET ?? 'fashion-mnist';
  const steps = Number(process.env.STEPS ?? 200);
  const ckpt = process.env.CKPT ?? 'custom-loop.pt';
  const every = Number(process.env.CKPT_EVERY ?? 50);
  const train = await openDataset(dataset, 'train', { subset: Number(process.env.SUBSET ?? 10000) });
  const [, c, h] = train.images.shape;
  const model = SslModel.create(configFor('byol', {}, { backbone: { inChannels: c as 1 | 3 }, augment: { outSize: h }, totalSteps: steps }));

  const abort = new AbortController();
  process.once('SIGINT', () => abort.abort());
  if (process.env.STOP_AFTER_MS) setTimeout(() => abort.abort(), Number(process.env.STOP_AFTER_MS)).unref();

  const events = new EventEmitter();
  events.on('step', (r: StepResult) => {
    if (r.step % 10 === 0) console.log(`step ${r.step}: loss ${r.loss.toFixed(3)}, momentum ${r.momentum.toFixed(4)}, ${Math.round(r.ms.forward + r.ms.backward)} ms fwd+bwd`);
  });
  events.on('checkpoint', (file: string, step: number) => console.log(`checkpoint ${file} at step ${step}`));

  // Resume: the checkpoint holds weights, EMA, optimizer, augmentation RNG and the step count.
  if (fs.existsSync(ckpt)) {
    await model.load(ckpt);
    console.log(`resumed from ${ckpt} at step ${model.summary().step}`);
  }
  const sampler = train.sampler({ batchSize: 64, seed: 0 });
  while (model.summary().step < steps && !abort.signal.aborted) {
    const batch = train.batch(sampler.next());
    const r = await model.step(batch.images, batch.index);
    batch.images.dispose();
    batch.labels.dispose();
    batch.index.dispose();
    events.emit('step', r);
    if (r.step % every === 0) events.emit('checkpoint', await model.save(ckpt), r.step);
  }
  events.emit('checkpoint', await model.save(ckpt), model.summary().step);
  console.log(abort.signal.aborted ? `aborted at step ${model.summary().step}` : `finished ${steps} steps`);
  for (const x of [model, train]) x.dispose();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
