// The honest baseline of the evaluators: raw pixels as features.
#pragma once
#include <torch/torch.h>

namespace mssl {

// uint8 images [N,C,H,W] → float32 [N, C·H·W] in [0, 1].
torch::Tensor pixelFeatures(const torch::Tensor& images);

}  // namespace mssl
