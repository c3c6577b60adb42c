// Our side of the training-step benchmark, in its own process so its peak RSS is its own.
// JSON lines on stdin: {cmd:'run', steps:k} -> {seconds, steps, loss}; {cmd:'quit'} -> {maxRssKB}.
// Flags: --threads, --batch, --out-size, --channels-last 0|1 (default 1, the package default).
// A step: sampler batch -> dataset gather (native index_select) -> SslModel.step (two augmented
// views, forward, NT-Xent, backward, SGD; all native, off the event loop).
import * as readline from 'readline';

import { loadFashionMnist, setNumThreads, SslModel, info } from '../../lib';
import { now } from './common';

function reply(obj: object): void {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

async function main(): Promise<void> {
  const arg = (name: string, dflt: number) => {
    const i = process.argv.indexOf(name);
    return i >= 0 ? Number(process.argv[i + 1]) : dflt;
  };
  const threads = arg('--threads', 2);
  const batch = arg('--batch', 256);
  const outSize = arg('--out-size', 32);
  const channelsLast = arg('--channels-last', 1) !== 0;
  setNumThreads(threads);
  const ds = await loadFashionMnist('train');
  const model = SslModel.create({ backbone: { inChannels: 1 }, augment: { outSize }, ema: { parts: 'none' }, channelsLast });
  const sampler = ds.sampler({ batchSize: batch, dropLast: true, shuffle: true, seed: 1 });
  reply({ ready: true, numThreads: info().numThreads, numParameters: model.summary().numParameters, channelsLast, ompWaitPolicy: process.env.OMP_WAIT_POLICY ?? '(libgomp default)' });
  const rl = readline.createInterface({ input: process.stdin });
  for await (const line of rl) {
    const req = JSON.parse(line) as { cmd: string; steps?: number };
    if (req.cmd === 'quit') break;
    const t0 = now();
    let loss = NaN;
    for (let s = 0; s < (req.steps ?? 1); s++) {
      const b = ds.batch(sampler.next());
      const r = await model.step(b.images);
      loss = r.loss;
      b.images.dispose();
      b.labels.dispose();
      b.index.dispose();
    }
    reply({ seconds: now() - t0, steps: req.steps, loss });
  }
  model.dispose();
  reply({ maxRssKB: process.resourceUsage().maxRSS });
  process.exit(0);
}

main().catch((e) => {
  reply({ error: String(e && (e as Error).stack ? (e as Error).stack : e) });
  process.exit(1);
});
