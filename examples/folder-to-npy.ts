// (d) An image folder → embeddings .npy + labels .npy, for NumPy, scikit-learn or any other tool.
//
// The folder has one sub-folder per class (root/cat/*.png, root/dog/*.jpg, ...), decoded and
// resized with sharp. Features come from a pretrain run (CHECKPOINT=run folder) or, without one,
// from a fresh network (to try the pipeline).
//   npx ts-node --transpile-only examples/folder-to-npy.ts ROOT [OUT_PREFIX]
import * as fs from 'fs';

import { loadImageFolder, loadTrainedModel, SslModel } from '../lib';
import { npyBytes } from '../lib/io/npy';

async function main(): Promise<void> {
  const [root, prefix = 'features'] = process.argv.slice(2);
  if (!root) throw new Error('usage: folder-to-npy.ts ROOT [OUT_PREFIX]');
  const model = process.env.CHECKPOINT ? (await loadTrainedModel(process.env.CHECKPOINT)).model : SslModel.create({ augment: { outSize: 32 } });
  const { outSize } = model.config.augment;
  const data = await loadImageFolder(root, { size: outSize, channels: model.config.backbone.inChannels });
  const feats = await model.embedArray(data.images);
  const labels = data.labels.toTypedArray() as BigInt64Array;
  fs.writeFileSync(`${prefix}.npy`, npyBytes(feats.data, feats.shape));
  fs.writeFileSync(`${prefix}-labels.npy`, npyBytes(labels, [labels.length]));
  console.log(`${data.length} images of ${data.numClasses} classes (${data.classNames?.join(', ')}) → ${prefix}.npy ${feats.shape.join('×')}, ${prefix}-labels.npy`);
  for (const x of [model, data]) x.dispose();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
