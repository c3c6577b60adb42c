// SimSiam's loss (Chen & He, 2021): negative cosine similarity D(p, z) = −mean_i cos(p_i, z_i).
#pragma once
#include <torch/torch.h>

namespace mssl {

// p, z [N,D], normalised inside; z is detached here (the stop-gradient is part of D's definition).
torch::Tensor negativeCosine(const torch::Tensor& p, const torch::Tensor& z);

}  // namespace mssl
