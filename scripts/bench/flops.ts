// FLOP counts of the benchmarked training step (roofline rows of `npm run bench`): the
// convolutions and linear layers of the width-0.25 CIFAR-stem ResNet-18 + projector, forward and
// backward, counted from the architecture (2 FLOPs per multiply-add). Elementwise work (BN, ReLU,
// adds, pooling) and the loss are left out: they are memory-bound and small.

export interface Layer {
  /** multiply-adds per image */
  macs: number;
  /** false for the first conv: its input needs no gradient */
  inputGrad: boolean;
}

/** 2·MACs of one stride-`stride`, same-padded k×k conv on an hw×hw input. */
export function convFlops(cin: number, cout: number, k: number, hw: number, stride = 1): number {
  const out = Math.ceil(hw / stride);
  return 2 * cin * cout * k * k * out * out;
}

/** The layers of ResNet-18 (BasicBlock, CIFAR stem), widths round(64·w)…, then the projector MLP. */
export function resnet18Layers(width: number, inChannels: number, size: number, projHidden = 512, projOut = 128): Layer[] {
  const w = [64, 128, 256, 512].map((c) => Math.round(c * width));
  const L: Layer[] = [];
  const conv = (cin: number, cout: number, k: number, hw: number, stride: number, inputGrad = true) =>
    L.push({ macs: convFlops(cin, cout, k, hw, stride) / 2, inputGrad });
  let hw = size;
  conv(inChannels, w[0], 3, hw, 1, false);
  let cin = w[0];
  for (let s = 0; s < 4; s++) {
    const stride = s === 0 ? 1 : 2;
    conv(cin, w[s], 3, hw, stride);
    const out = Math.ceil(hw / stride);
    conv(w[s], w[s], 3, out, 1);
    if (stride !== 1 || cin !== w[s]) conv(cin, w[s], 1, hw, stride);
    conv(w[s], w[s], 3, out, 1);
    conv(w[s], w[s], 3, out, 1);
    cin = w[s];
    hw = out;
  }
  L.push({ macs: cin * projHidden, inputGrad: true }, { macs: projHidden * projOut, inputGrad: true });
  return L;
}

/**
 * FLOPs of one SimCLR step on `batch` images (two views): forward 2·MACs per layer and image;
 * backward the weight gradient (2·MACs) plus the input gradient (2·MACs) where one is needed.
 */
export function stepFlops(batch: number, size: number, width = 0.25, inChannels = 1): number {
  let f = 0;
  for (const l of resnet18Layers(width, inChannels, size)) f += 2 * l.macs * (l.inputGrad ? 3 : 2);
  return f * batch * 2;
}
