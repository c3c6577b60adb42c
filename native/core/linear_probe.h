// Linear probe (design §7): multinomial logistic regression on frozen features, fitted on the
// train split with full-batch L-BFGS (deterministic, no LR to tune), accuracy on the test split.
#pragma once
#include <torch/torch.h>

namespace mssl {

struct LinearProbeConfig {
  int64_t maxIterations = 100;
  double weightDecay = 1e-4;   // L2 penalty on the weights (not the bias), mean-loss scale
  int64_t numClasses = 0;      // 0: 1 + max label
  bool standardize = true;     // z-score features with train statistics first
  void validate() const;
};

struct LinearProbeResult {
  double trainAccuracy = 0;
  double testAccuracy = 0;
  double trainLoss = 0;
  int64_t evaluations = 0;  // loss/gradient evaluations L-BFGS made (line searches included)
};

LinearProbeResult linearProbe(const torch::Tensor& trainFeatures, const torch::Tensor& trainLabels, const torch::Tensor& testFeatures,
                              const torch::Tensor& testLabels, const LinearProbeConfig& cfg);

}  // namespace mssl
