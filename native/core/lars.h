// LARS: layer-wise adaptive rate scaling (You, Gitman & Ginsburg 2017, "Large Batch Training of
// Convolutional Networks"), in the form SimCLR / BYOL / MoCo v3 train with. Per parameter p with
// gradient g, in a group with weight decay λ, trust coefficient η and momentum μ:
//   d = g + λ·p
//   if adapt:  q = η·‖p‖/‖d‖ when ‖p‖ > 0 and ‖d‖ > 0, else 1;   d ← q·d
//   buf ← μ·buf + d   (buf = d on the first step)
//   p   ← p − lr·buf
// A group with adapt = false and λ = 0 is plain SGD with momentum: that is how biases and
// BatchNorm parameters are usually excluded (see makeOptimizer in core/optim.h).
// State (momentum buffers) and options round-trip through torch::save / torch::load like the
// built-in optimizers.
#pragma once
#include <torch/arg.h>
#include <torch/optim/optimizer.h>
#include <torch/serialize/archive.h>

#include <memory>
#include <vector>

namespace mssl {

struct LARSOptions : public torch::optim::OptimizerCloneableOptions<LARSOptions> {
  LARSOptions(double lr = 0.1);  // NOLINT: implicit from lr, as torch's own options (serializer needs it)
  TORCH_ARG(double, lr);
  TORCH_ARG(double, momentum) = 0.9;
  TORCH_ARG(double, weight_decay) = 0;
  TORCH_ARG(double, eta) = 0.02;     // trust coefficient η
  TORCH_ARG(bool, adapt) = true;     // apply the trust ratio in this group

 public:
  void serialize(torch::serialize::InputArchive& archive) override;
  void serialize(torch::serialize::OutputArchive& archive) const override;
  double get_lr() const override { return lr(); }
  void set_lr(const double lr) override { this->lr(lr); }
  // Throws std::out_of_range naming the option when a value is outside its range.
  void validate() const;
};

struct LARSParamState : public torch::optim::OptimizerCloneableParamState<LARSParamState> {
  TORCH_ARG(torch::Tensor, momentum_buffer);

 public:
  void serialize(torch::serialize::InputArchive& archive) override;
  void serialize(torch::serialize::OutputArchive& archive) const override;
};

class LARS : public torch::optim::Optimizer {
 public:
  LARS(std::vector<torch::optim::OptimizerParamGroup> paramGroups, LARSOptions defaults);
  LARS(std::vector<torch::Tensor> params, LARSOptions defaults);

  torch::Tensor step(LossClosure closure = nullptr) override;
  void save(torch::serialize::OutputArchive& archive) const override;
  void load(torch::serialize::InputArchive& archive) override;

  // The momentum buffer of `param` (undefined before its first step). For tests and inspection.
  torch::Tensor momentumBuffer(const torch::Tensor& param) const;
};

}  // namespace mssl
