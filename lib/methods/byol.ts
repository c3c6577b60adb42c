// BYOL (Grill et al., 2020): predictor regression 2 − 2·cos(p, k) onto EMA keys; no negatives.
import { emaOption, Method, MethodOptions } from './method';

export const byol: Method<MethodOptions> = {
  name: 'byol',
  summary: 'BYOL, regression onto EMA keys with a predictor, m 0.99→1 (cosine)',
  preset(options = {}) {
    return {
      predictor: { hiddenDim: 512 },
      loss: { name: 'byol', temperature: 0.2, queueSize: 0, inBatchNegatives: false },
      ema: emaOption(options.ema, { parts: 'full', base: 0.99, final: 1.0 }),
    };
  },
};
