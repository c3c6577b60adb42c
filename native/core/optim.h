// Optimizer factory for the training step (design §6): SGD with momentum (optionally Nesterov),
// AdamW and LARS, with the usual SSL convention that biases and normalisation parameters (every
// tensor with ndim ≤ 1) get no weight decay and no LARS adaptation.
#pragma once
#include <torch/optim/optimizer.h>

#include <memory>
#include <string>
#include <vector>

namespace mssl {

struct OptimConfig {
  std::string name = "sgd";       // "sgd", "lars" or "adamw"
  double lr = 0.05;               // ≥ 0; usually overwritten every step by setLearningRate
  double momentum = 0.9;          // sgd, lars: [0, 1)
  double weightDecay = 1e-4;      // ≥ 0 (decoupled for adamw)
  bool nesterov = false;          // sgd only; needs momentum > 0
  double eta = 0.02;              // LARS trust coefficient, > 0
  bool excludeBiasAndNorm = true; // ndim ≤ 1 tensors: no weight decay, no LARS adaptation
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;  // adamw: betas in [0, 1), eps > 0
};

// Builds the optimizer over `params`. With excludeBiasAndNorm the parameters are split into two
// groups, in this order: ndim ≥ 2 (weights; decayed, LARS-adapted) then ndim ≤ 1 (biases, norm
// scales/shifts; no decay, no adaptation); an empty group is left out.
// Throws std::invalid_argument for an unknown name or an option that does not apply to it
// (nesterov with lars/adamw), std::out_of_range for a value outside its range.
std::unique_ptr<torch::optim::Optimizer> makeOptimizer(const OptimConfig& cfg, const std::vector<torch::Tensor>& params);

// Sets the learning rate of every parameter group (lr ≥ 0, finite; else std::out_of_range).
void setLearningRate(torch::optim::Optimizer& opt, double lr);

// The learning rate of the first parameter group (0 if there is none).
double learningRate(const torch::optim::Optimizer& opt);

}  // namespace mssl
