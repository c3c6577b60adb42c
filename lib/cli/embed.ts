// `momentum-ssl embed`: backbone features of a dataset split for other tools (.npy, or raw
// float32 with a JSON header).
import * as fs from 'fs';
import * as path from 'path';

import { openDataset } from '../data/open';
import { npyBytes } from '../io/npy';
import { loadTrainedModel } from '../train/runInfo';
import { Command, UsageError } from './command';
import { CHECKPOINT_OPTIONS, RUN_DATA_OPTIONS } from './options';

export const embedCommand: Command = {
  name: 'embed',
  summary: 'write backbone features of a dataset split for other tools (.npy, or raw float32 + JSON header)',
  usage: 'momentum-ssl embed --checkpoint FILE|DIR --output FILE [--split train|test] [options]',
  options: [
    ...CHECKPOINT_OPTIONS,
    { name: 'output', kind: 'string', short: 'o', arg: 'FILE', desc: 'FILE.npy: NumPy v1.0 float32 [N, F]; any other name: raw little-endian float32 row-major, with FILE.json = { format, dtype, shape, labels, ... }' },
    { name: 'labels', kind: 'string', arg: 'FILE', desc: '.npy output: also write the labels as int64 [N] NumPy to FILE' },
    ...RUN_DATA_OPTIONS,
    { name: 'split', kind: 'string', arg: 'train|test', desc: 'which split (default test)', choices: ['train', 'test'] },
    { name: 'subset', kind: 'int', arg: 'N', desc: 'only a seeded random subset of N images (0 = all)' },
    { name: 'seed', kind: 'int', arg: 'N', desc: 'seed of the subset (default 0)' },
  ],
  help: [
    'Output formats:',
    '  .npy     NumPy format 1.0, dtype <f4, shape (N, F), C order: numpy.load(), or parse the',
    '           header (magic \\x93NUMPY, version, header length, Python-dict header) from any language.',
    '  other    raw little-endian float32, row-major [N, F], plus FILE.json:',
    '           { "format": "momentum-ssl-features", "version": 1, "dtype": "float32", "byteOrder": "little",',
    '             "shape": [N, F], "labels": [...], "dataset", "split", "checkpoint" }',
  ],
  examples: ['momentum-ssl embed --checkpoint momentum-ssl-run --split test --output test.npy --labels test-labels.npy'],
  async run(p, io) {
    const v = p.values;
    if (typeof v.checkpoint !== 'string') throw new UsageError('embed needs --checkpoint FILE|DIR');
    if (typeof v.output !== 'string') throw new UsageError('embed needs --output FILE (.npy, or any other name for raw float32 + FILE.json)');
    const npy = path.extname(v.output).toLowerCase() === '.npy';
    if (v.labels !== undefined && !npy) throw new UsageError('--labels goes with .npy output (raw output keeps the labels in FILE.json)');
    const { model, run, checkpoint } = await loadTrainedModel(v.checkpoint, v.runInfo as string | undefined);
    try {
      const dataset = (v.dataset as string | undefined) ?? run.dataset;
      const dataDir = (v.dataDir as string | undefined) ?? (v.dataset === undefined ? run.dataDir : undefined);
      const split = (v.split as 'train' | 'test' | undefined) ?? 'test';
      const data = await openDataset(dataset, split, { dataDir, subset: (v.subset as number | undefined) ?? 0, seed: (v.seed as number | undefined) ?? 0 });
      try {
        const feats = await model.embed(data.images);
        try {
          const shape = feats.shape;
          const values = feats.toTypedArray() as Float32Array;
          const labels = data.labels.toTypedArray() as BigInt64Array;
          fs.mkdirSync(path.dirname(path.resolve(v.output)), { recursive: true });
          if (npy) {
            fs.writeFileSync(v.output, npyBytes(values, shape));
            if (typeof v.labels === 'string') fs.writeFileSync(v.labels, npyBytes(labels, [labels.length]));
          } else {
            fs.writeFileSync(v.output, Buffer.from(values.buffer, values.byteOffset, values.byteLength));
            const header = {
              format: 'momentum-ssl-features',
              version: 1,
              dtype: 'float32',
              byteOrder: 'little',
              shape,
              labels: Array.from(labels, (x) => Number(x)),
              classNames: data.classNames ?? null,
              dataset: data.name,
              split,
              checkpoint: path.resolve(checkpoint),
            };
            fs.writeFileSync(`${v.output}.json`, JSON.stringify(header) + '\n');
          }
          io.out(`wrote ${shape[0]}×${shape[1]} float32 features of ${data.name} to ${v.output}${npy ? '' : ` (+ ${v.output}.json)`}${typeof v.labels === 'string' ? `, labels to ${v.labels}` : ''}\n`);
        } finally {
          feats.dispose();
        }
      } finally {
        data.dispose();
      }
      return 0;
    } finally {
      model.dispose();
    }
  },
};
