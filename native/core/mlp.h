// Projector / predictor head (design §1): Linear → BatchNorm1d → ReLU → Linear [→ BatchNorm1d]
// [→ L2-normalise → weight-normalised prototypes (DINO's head, design §3.5)].
// Children are named "0".."3" (and "4" with lastBn) exactly like a Python nn.Sequential, so keys
// read 0.weight, 1.running_mean, 3.weight, ... in exported state dicts.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace mssl {

struct MlpConfig {
  int64_t inDim = 0;
  int64_t hiddenDim = 0;
  int64_t outDim = 0;
  // Append BatchNorm1d(outDim, affine=false) as "4" (MoCo v3 / SimSiam style); the last Linear
  // then has no bias, since the BN would cancel it.
  bool lastBn = false;
  // > 0: DINO's prototype layer after the MLP: the outDim bottleneck is L2-normalised and mapped
  // by a bias-free Linear(outDim, prototypes) whose rows are normalised to unit length at every
  // forward (weight norm with the gain fixed to 1, DINO's norm_last_layer). Output: [B, prototypes].
  int64_t prototypes = 0;
  // Throws std::out_of_range naming the dimension when any is < 1.
  void validate() const;
};

class MlpImpl : public torch::nn::Cloneable<MlpImpl> {
 public:
  explicit MlpImpl(const MlpConfig& c);
  void reset() override;
  // x: [B, inDim] -> [B, outDim]. Throws std::invalid_argument on a wrong shape, and for B < 2
  // in training mode (BatchNorm cannot compute batch statistics from one sample).
  // `stageOut` (the per-block gradient monitor, design §5): appends each stage's output,
  // Linear→BN→ReLU, then Linear[→BN], then the prototype logits when present.
  torch::Tensor forward(const torch::Tensor& x, std::vector<torch::Tensor>* stageOut = nullptr);
  int numStages() const { return cfg_.prototypes > 0 ? 3 : 2; }
  const MlpConfig& config() const { return cfg_; }
  int64_t outputDim() const { return cfg_.prototypes > 0 ? cfg_.prototypes : cfg_.outDim; }

 private:
  MlpConfig cfg_;
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
  torch::nn::BatchNorm1d bn1{nullptr}, bnOut{nullptr};
  torch::nn::ReLU relu{nullptr};
  torch::nn::Linear protos{nullptr};
};
TORCH_MODULE(Mlp);

}  // namespace mssl
