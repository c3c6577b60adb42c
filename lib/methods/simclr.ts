// SimCLR (Chen et al., 2020): NT-Xent over two views, no momentum by default. With `ema` it is the
// paper's "momentum SimCLR": keys from the EMA parts (design §3.1), e.g. ema: 'projector'.
import { emaOption, Method, MethodOptions } from './method';

export const simclr: Method<MethodOptions> = {
  name: 'simclr',
  summary: "SimCLR, NT-Xent; ema: 'none' (default), 'full', 'projector' or a part list",
  // The package defaults are SimCLR's (objective ntxent, no predictor, no EMA parts).
  preset(options = {}) {
    return emaOption(options.ema);
  },
};
