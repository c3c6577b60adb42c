// The eval view of an image that model.embed() computes natively (evalTransform in
// native/core/augment.cc), written out for consumers outside this package: an exported ONNX
// model carries it in its metadata, and code that feeds such a model follows it.
import type { SslConfig } from '../config';

export interface EvalPreprocessing {
  /** Channels the network takes (1 grey, 3 RGB), NCHW layout. */
  channels: number;
  /** Images are resized (bilinear, align_corners=false) to size × size before the network. */
  size: number;
  /** uint8 pixel values are multiplied by this (1/255) to give values in [0, 1]. */
  scale: number;
  /** Then per channel: (x − mean[c]) / std[c]. */
  mean: number[];
  std: number[];
}

// evalTransform's value for a null mean/std (normalizePerChannel in native/core/augment.cc).
const UNSET_CHANNEL_STAT = 0.5;

function perChannel(v: number[] | null, channels: number): number[] {
  return v === null || v.length === 0 ? new Array<number>(channels).fill(UNSET_CHANNEL_STAT) : [...v];
}

export function evalPreprocessing(config: SslConfig): EvalPreprocessing {
  const channels = config.backbone.inChannels;
  return {
    channels,
    size: config.augment.outSize,
    scale: 1 / 255,
    mean: perChannel(config.augment.mean, channels),
    std: perChannel(config.augment.std, channels),
  };
}
