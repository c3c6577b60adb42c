// DINO (Caron et al., 2021): self-distillation with no labels. An EMA teacher (full by default)
// on two global crops, centred and sharpened; the student on the global and `localCrops` small
// crops; a prototype head (L2-normalised bottleneck, weight-normalised last layer).
import { emaOption, Method, MethodOptions } from './method';

export interface DinoOptions extends MethodOptions {
  /** Local crops per image besides the two global ones (default 4). */
  localCrops?: number;
  /** Prototypes K of the head (default 1024: DINO's 65536 scaled to small data). */
  prototypes?: number;
}

export const DINO_LOCAL_CROPS = 4;
export const DINO_PROTOTYPES = 1024;

export const dino: Method<DinoOptions> = {
  name: 'dino',
  summary: `DINO, EMA teacher with centring and sharpening, ${DINO_LOCAL_CROPS} local crops, ${DINO_PROTOTYPES} prototypes, m 0.996→1`,
  cliOptions: [
    { name: 'local-crops', kind: 'int', arg: 'N', desc: `local crops per image (default ${DINO_LOCAL_CROPS})`, key: 'localCrops' },
    { name: 'prototypes', kind: 'int', arg: 'K', desc: `prototypes of the head (default ${DINO_PROTOTYPES})`, key: 'prototypes' },
  ],
  preset(options = {}) {
    return {
      // DINO's crops: global (0.4, 1), local (0.05, 0.4).
      projector: { prototypes: options.prototypes ?? DINO_PROTOTYPES },
      objective: { name: 'dino' },
      augment: { scale: [0.4, 1.0], localCrops: options.localCrops ?? DINO_LOCAL_CROPS },
      ...emaOption(options.ema, 'full', { base: 0.996, final: 1.0 }),
    };
  },
};
