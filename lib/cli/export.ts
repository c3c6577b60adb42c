// `momentum-ssl export`: a trained checkpoint's network for other runtimes: ONNX (onnxruntime-node,
// onnxruntime in Python, ...) or the torchvision state_dict that Python's torch.load reads.
import * as fs from 'fs';
import * as path from 'path';

import { ONNX_EXPORT_DEFAULTS, ONNX_INCLUDES, ONNX_OPSETS, OnnxInclude } from '../export/onnx';
import { loadTrainedModel } from '../train/runInfo';
import { Command, UsageError } from './command';
import { CHECKPOINT_OPTIONS } from './options';

const FORMATS = ['onnx', 'torchvision'] as const;

export const exportCommand: Command = {
  name: 'export',
  summary: 'write a checkpoint\'s network as ONNX (for onnxruntime-node) or as a torchvision state_dict (for torch.load)',
  usage: 'momentum-ssl export --checkpoint FILE|DIR --format onnx|torchvision --output FILE [options]',
  options: [
    ...CHECKPOINT_OPTIONS,
    { name: 'format', kind: 'string', arg: 'onnx|torchvision', desc: 'onnx: the eval-mode network as an ONNX graph; torchvision: backbone weights with torchvision key names (torch.load)', choices: FORMATS },
    { name: 'output', kind: 'string', short: 'o', arg: 'FILE', desc: 'file to write (its folder must exist)' },
    { name: 'include', kind: 'string', arg: ONNX_INCLUDES.join('|'), desc: `onnx: what the graph computes (default ${ONNX_EXPORT_DEFAULTS.include})`, choices: ONNX_INCLUDES },
    { name: 'opset', kind: 'int', arg: 'N', desc: `onnx: opset ${ONNX_OPSETS.min}..${ONNX_OPSETS.max} (default ${ONNX_EXPORT_DEFAULTS.opset})` },
    { name: 'ema', kind: 'boolean', desc: 'the EMA weights of the EMA parts instead of the online ones' },
  ],
  help: [
    'ONNX: input `images` float32 [N, C, H, W], pixel values in [0, 1] (uint8 / 255), dynamic N, H, W; the',
    'mean/std normalisation is inside the graph. Resize images to the training size first (the',
    'metadata_props key `preprocessing` says how). Output `features` [N, F], or `projection` with',
    '--include backbone+projector.',
  ],
  examples: [
    'momentum-ssl export --checkpoint momentum-ssl-run --format onnx --output resnet18.onnx',
    'momentum-ssl export --checkpoint momentum-ssl-run --format torchvision --output resnet18.pt',
  ],
  async run(p, io) {
    const v = p.values;
    if (typeof v.checkpoint !== 'string') throw new UsageError('export needs --checkpoint FILE|DIR');
    if (typeof v.format !== 'string') throw new UsageError(`export needs --format ${FORMATS.join('|')}`);
    if (typeof v.output !== 'string') throw new UsageError('export needs --output FILE');
    const onnx = v.format === 'onnx';
    if (!onnx && (v.include !== undefined || v.opset !== undefined)) throw new UsageError('--include and --opset go with --format onnx');
    const dir = path.dirname(path.resolve(v.output));
    if (!fs.existsSync(dir)) throw new UsageError(`--output: folder '${dir}' does not exist`);
    const { model, checkpoint } = await loadTrainedModel(v.checkpoint, v.runInfo as string | undefined);
    try {
      const ema = v.ema === true;
      if (onnx) {
        const include = (v.include as OnnxInclude | undefined) ?? ONNX_EXPORT_DEFAULTS.include;
        await model.exportOnnx(v.output, { include, opset: (v.opset as number | undefined) ?? ONNX_EXPORT_DEFAULTS.opset, ema });
        io.out(`wrote ONNX (${include}${ema ? ', EMA weights' : ''}) of ${checkpoint} to ${v.output}\n`);
      } else {
        await model.exportStateDict(v.output, { ema });
        io.out(`wrote the torchvision state_dict${ema ? ' (EMA weights)' : ''} of ${checkpoint} to ${v.output}\n`);
      }
      return 0;
    } finally {
      model.dispose();
    }
  },
};
