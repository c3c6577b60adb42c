// BYOL (Grill et al., 2020): predictor regression 2 − 2·cos(p, k) onto EMA keys; no negatives.
// `ema: 'projector'` is projector-only BYOL: the EMA of the projector alone over the shared
// backbone features.
import { emaOption, Method, MethodOptions } from './method';

export const byol: Method<MethodOptions> = {
  name: 'byol',
  summary: 'BYOL, regression onto EMA keys with a predictor, full EMA m 0.99→1 (cosine)',
  preset(options = {}) {
    return { predictor: { hiddenDim: 512 }, objective: { name: 'byol' }, ...emaOption(options.ema, 'full') };
  },
};
