// BatchNorm over the whole data-parallel batch (design §9, `syncBatchNorm: true`): batch
// statistics are all-reduced across ranks in the forward, and the two per-channel reductions of
// the backward (Σ dy, Σ dy·x̂) in the backward, so N ranks × B images normalise exactly like one
// process × N·B. Running statistics are updated from the global mean and the unbiased global
// variance, as torch.nn.SyncBatchNorm does. (PyTorch's SyncBatchNorm runs on CUDA only; this is
// plain ATen and runs on every device.)
//
// The networks call batchNorm(bn, x) at every BatchNorm; it is the module's own forward unless a
// SyncBatchNormScope is alive on this thread and the module is training.
#pragma once
#include <torch/torch.h>

#include "core/collectives.h"

namespace mssl {

// While alive, batchNorm() on this thread synchronises over `c` (nullptr or world size 1: local).
class SyncBatchNormScope {
 public:
  explicit SyncBatchNormScope(Collectives* c);
  ~SyncBatchNormScope();
  SyncBatchNormScope(const SyncBatchNormScope&) = delete;
  SyncBatchNormScope& operator=(const SyncBatchNormScope&) = delete;

 private:
  Collectives* previous_;
};

torch::Tensor batchNorm(torch::nn::BatchNorm2d& bn, const torch::Tensor& x);
torch::Tensor batchNorm(torch::nn::BatchNorm1d& bn, const torch::Tensor& x);

// The synchronised batch norm itself, on any [N, C, ...] input (exposed for tests). `runningMean`
// and `runningVar` (may be undefined) are updated in place with `momentum` (nullopt: cumulative
// average over `numBatchesTracked`, which is incremented when defined).
torch::Tensor syncBatchNorm(Collectives& c, const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                            torch::Tensor runningMean, torch::Tensor runningVar, torch::Tensor numBatchesTracked,
                            c10::optional<double> momentum, double eps);

}  // namespace mssl
