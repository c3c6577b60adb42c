// SimCLR (Chen et al., 2020): NT-Xent over two views, no momentum by default. With `ema` it is the
// paper's "momentum SimCLR": keys from the EMA parts (design §3), e.g. ema: 'projector'.
import { emaOption, Method, MethodOptions } from './method';

export const simclr: Method<MethodOptions> = {
  name: 'simclr',
  summary: "SimCLR, NT-Xent (τ 0.2); ema: 'none' (default), 'full', 'projector' or a part list",
  preset(options = {}) {
    return {
      predictor: { hiddenDim: 0 },
      loss: { name: 'ntxent', temperature: 0.2, queueSize: 0, inBatchNegatives: false },
      // Cosine momentum 0.99 → 1 when EMA is on (solo-learn's default for momentum methods).
      ema: emaOption(options.ema, { parts: 'none', base: 0.99, final: 1.0 }),
    };
  },
};
