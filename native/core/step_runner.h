// One whole training step in one call (design §6): augment two views → online forward → key
// branch → loss → backward → optimizer step → fused EMA update → queue enqueue, with the time of
// each phase.
#pragma once
#include <torch/torch.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include "core/augment.h"
#include "core/grad_monitor.h"
#include "core/optim.h"
#include "core/queue.h"
#include "core/ssl_model.h"

namespace mssl {

struct StepConfig {
  std::string loss = "ntxent";  // "ntxent" (SimCLR, momentum SimCLR), "infonce" (MoCo), "byol"
  double temperature = 0.2;     // ntxent / infonce, > 0
  int64_t queueSize = 0;        // infonce: negative keys kept across steps (0 = none)
  bool inBatchNegatives = false;  // infonce: other keys of the batch are negatives too (MoCo v3)
  int64_t totalSteps = 1000;    // T of the LR and momentum schedules: optimizer steps of the run
  int64_t warmupSteps = 0;
  double lr = 0.3;              // base LR after warmup
  double finalLr = 0.0;         // LR at step T (cosine)
  double momentumBase = 0.99;   // m(0)
  double momentumFinal = 1.0;   // m(T)
  OptimConfig optim;
  AugmentConfig augment;
  uint64_t seed = 0;            // model init and augmentation streams
  std::string device = "cpu";
  bool gradMonitor = false;     // per-part gradient RMS each step (design §5); free when off
  bool channelsLast = false;    // NHWC convolutions (issue #14); the package default is SslConfig.channelsLast
  void validate(const SslModelConfig& model) const;
};

enum Phase { kAugment, kForward, kKeyBranch, kLoss, kBackward, kOptimizer, kEma, kEnqueue, kNumPhases };
const std::array<const char*, kNumPhases>& phaseNames();

struct StepResult {
  double loss = 0;
  double lr = 0;
  double momentum = 0;
  int64_t step = 0;  // optimizer steps done after this one
  std::array<double, kNumPhases> ms{};
  PartStats gradRms{};  // rms of ∂L/∂h_b per part (NaN when the monitor is off)
};

struct ProbeResult {
  PartStats rms{};     // rms of ∂L/∂h_b on the probe batch
  PartStats cosine{};  // cosine with the previous probe's ∂L/∂h_b (NaN the first time)
};

class StepRunner {
 public:
  StepRunner(const SslModelConfig& model, const StepConfig& cfg);

  // `batch`: uint8 [B,C,H,W] (B >= 2, C = backbone channels), any device. `sampleIndex`: int64
  // [B] dataset indices (masks same-sample queue negatives), or undefined. Validates everything
  // before changing any state.
  StepResult step(const torch::Tensor& batch, const torch::Tensor& sampleIndex);

  // Gradient of the loss w.r.t. each part's output on a fixed batch, with fixed augmentation,
  // without changing any state (no optimizer step, no EMA, no enqueue, BN stats frozen).
  ProbeResult probe(const torch::Tensor& batch);

  // Backbone features in eval mode for uint8 images (normalised like training, no augmentation).
  torch::Tensor embed(const torch::Tensor& batch);

  SslModel& model() { return *model_; }
  BatchAugmenter& augmenter() { return *augmenter_; }
  torch::optim::Optimizer& optimizer() { return *optimizer_; }
  NegativeQueue* queue() { return queue_.get(); }
  const StepConfig& config() const { return cfg_; }
  int64_t stepCount() const { return step_; }
  void setStepCount(int64_t s) { step_ = s; }
  double currentLr() const;
  double currentMomentum() const;

 private:
  void checkBatch(const torch::Tensor& batch, const torch::Tensor& sampleIndex) const;
  torch::Tensor computeLoss(const ViewForward& v1, const ViewForward& v2, const torch::Tensor& k1, const torch::Tensor& k2,
                            const torch::Tensor& index);
  bool needsKeys() const;

  StepConfig cfg_;
  torch::Device device_;
  std::unique_ptr<SslModel> model_;
  std::unique_ptr<BatchAugmenter> augmenter_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  std::unique_ptr<NegativeQueue> queue_;
  GradMonitor monitor_;
  int64_t step_ = 0;
};

}  // namespace mssl
