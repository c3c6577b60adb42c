// MoCo (He et al., 2020; Chen et al., 2020 v2; Chen, Xie & He, 2021 v3). v2: InfoNCE against a
// queue of EMA keys. v3: a predictor on the online branch, in-batch negatives, no queue.
// `ema: 'projector'` keeps MoCo's queue over projector-only keys.
import { emaOption, Method, MethodOptions } from './method';

export interface MocoOptions extends MethodOptions {
  variant?: 'v2' | 'v3';
  /** Queue size K for v2 (default MOCO_QUEUE_SIZE, the MoCo CIFAR setting). */
  queueSize?: number;
}

/** The MoCo CIFAR setting (He et al. use 65536 on ImageNet). */
export const MOCO_QUEUE_SIZE = 4096;

export const moco: Method<MocoOptions> = {
  name: 'moco',
  summary: `MoCo v2 (InfoNCE, queue ${MOCO_QUEUE_SIZE}, full EMA m 0.99) or v3 (predictor, in-batch negatives, m 0.99→1)`,
  cliOptions: [
    { name: 'variant', kind: 'string', arg: 'v2|v3', choices: ['v2', 'v3'], desc: 'variant (default v2)', key: 'variant' },
    { name: 'queue-size', kind: 'int', arg: 'K', desc: `v2 negative-key queue size (default ${MOCO_QUEUE_SIZE})`, key: 'queueSize' },
  ],
  preset(options = {}) {
    if (options.variant === 'v3') {
      return { predictor: { hiddenDim: 512 }, objective: { name: 'infonce', inBatchNegatives: true }, ...emaOption(options.ema, 'full') };
    }
    if (options.variant !== undefined && options.variant !== 'v2') throw new TypeError(`moco: variant must be 'v2' or 'v3', got '${String(options.variant)}'`);
    return {
      objective: { name: 'infonce', queueSize: options.queueSize ?? MOCO_QUEUE_SIZE },
      ...emaOption(options.ema, 'full', { final: 0.99 }),
    };
  },
};
