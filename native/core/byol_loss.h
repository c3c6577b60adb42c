// BYOL / MoCo v3 regression loss.
#pragma once
#include <torch/torch.h>

namespace mssl {

// mean_i (2 - 2·cos(p_i, k_i)); p, k [N,D], normalised inside; the caller detaches k.
torch::Tensor byolLoss(const torch::Tensor& p, const torch::Tensor& k);

}  // namespace mssl
