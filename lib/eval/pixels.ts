// Raw pixels as features: the baseline every learned representation is compared against.
import { binding } from '../native';
import { Tensor } from '../tensor';

/** uint8 images [N,C,H,W] → float32 [N, C·H·W] in [0, 1]. */
export async function pixelFeatures(images: Tensor): Promise<Tensor> {
  if (!(images instanceof Tensor)) throw new TypeError('pixelFeatures: images must be a Tensor (uint8 [N,C,H,W])');
  return new Tensor(await binding().pixelFeatures(images.handle));
}
