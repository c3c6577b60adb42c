// SimSiam (Chen & He, 2021): BYOL's architecture without the momentum encoder — the predictor
// regresses the other view's stop-gradient projection, −cos(p, sg(z)) — with the projector's
// final BatchNorm. The momentum-free counterpart of BYOL, so "plug EMA into a momentum-free
// framework" can be asked of a second framework: `ema: 'full'` or `'projector'`.
import { emaOption, Method, MethodOptions } from './method';

export const simsiam: Method<MethodOptions> = {
  name: 'simsiam',
  summary: "SimSiam, −cos(p, sg(z)) with a predictor and the projector's last BatchNorm; ema: 'none' (default), 'full', 'projector' or a part list",
  preset(options = {}) {
    // Predictor bottleneck a quarter of the projection (SimSiam's 2048 → 512 → 2048).
    return { projector: { lastBn: true }, predictor: { hiddenDim: 32 }, objective: { name: 'simsiam' }, ...emaOption(options.ema) };
  },
};
