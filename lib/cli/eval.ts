// `momentum-ssl eval`: kNN + linear probe of a trained checkpoint, next to raw pixels.
import * as fs from 'fs';
import * as path from 'path';

import { formatResultTable, readHistory, writeReport } from '../analysis/report';
import { loadTrainedModel } from '../train/runInfo';
import { Command, UsageError } from './command';
import { describeEval, evaluateSplits } from './evaluate';
import { CHECKPOINT_OPTIONS, EVAL_OPTIONS, RUN_DATA_OPTIONS } from './options';

export const evalCommand: Command = {
  name: 'eval',
  summary: 'evaluate a checkpoint: weighted kNN (k=200, T=0.1) and a linear probe, next to raw pixels',
  usage: 'momentum-ssl eval --checkpoint FILE|DIR [--dataset NAME|DIR] [options]',
  options: [...CHECKPOINT_OPTIONS, ...RUN_DATA_OPTIONS, { name: 'seed', kind: 'int', arg: 'N', desc: 'seed of the evaluation subsets (default 0)' }, ...EVAL_OPTIONS],
  examples: ['momentum-ssl eval --checkpoint momentum-ssl-run --report eval.html'],
  async run(p, io) {
    const v = p.values;
    if (typeof v.checkpoint !== 'string') throw new UsageError('eval needs --checkpoint FILE|DIR');
    const { model, run, checkpoint } = await loadTrainedModel(v.checkpoint, v.runInfo as string | undefined);
    try {
      const dataset = (v.dataset as string | undefined) ?? run.dataset;
      const dataDir = (v.dataDir as string | undefined) ?? (v.dataset === undefined ? run.dataDir : undefined);
      const r = await evaluateSplits(model, dataset, dataDir, v, io);
      if (v.json === true) io.out(JSON.stringify({ checkpoint, step: model.summary().step, dataset, ...r, summary: describeEval(r) }, null, 2) + '\n');
      else io.out(formatResultTable(r) + '\n');
      if (typeof v.report === 'string') {
        const metrics = path.join(path.dirname(checkpoint), 'metrics.jsonl');
        const file = await writeReport(v.report, {
          title: `momentum-ssl: evaluation of ${checkpoint}`,
          subtitle: `${run.method} (ema ${JSON.stringify(run.config.ema.parts)}) on ${dataset}`,
          history: fs.existsSync(metrics) ? readHistory(metrics) : undefined,
          evaluation: r,
          facts: { checkpoint, dataset, signature: model.signature(), steps: model.summary().step },
        });
        io.out(`report ${file}\n`);
      }
      return 0;
    } finally {
      model.dispose();
    }
  },
};
