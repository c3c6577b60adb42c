// An SSL model (design §6): the networks (ssl_networks.h), the objective (objective.h), the
// optimizer, the augmenter and the schedules, and one whole training step in one call:
// augment the views → online forward of each view → key branch (if the objective needs keys) →
// objective loss → backward → optimizer step → fused EMA update → objective state update, with the
// time of each phase. The TS SslModel (lib/model.ts) is this class behind N-API.
#pragma once
#include <torch/torch.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/augment.h"
#include "core/collectives.h"
#include "core/grad_monitor.h"
#include "core/objective.h"
#include "core/optim.h"
#include "core/ssl_networks.h"

namespace mssl {

// The whole configuration of a model and its training (the TS SslConfig). Every default lives
// here (and in the structs it holds); the N-API layer exports them to JS (design §8).
struct SslConfig {
  SslNetworksConfig networks;
  ObjectiveConfig objective;
  int64_t totalSteps = 1000;    // T of the LR and momentum schedules: optimizer steps of the run
  int64_t warmupSteps = 0;
  double lr = 0.3;              // base LR after warmup
  double finalLr = 0.0;         // LR at step T (cosine)
  double momentumBase = 0.99;   // m(0)
  double momentumFinal = 1.0;   // m(T)
  OptimConfig optim;
  AugmentConfig augment = defaultAugment();
  uint64_t seed = 0;            // model init and augmentation streams
  std::string device = "cpu";
  bool gradMonitor = false;     // per-part gradient RMS each step (design §5); free when off
  // NHWC convolutions in training, the key branch and embed (oneDNN's preferred layout; measured
  // faster on CPU, README benchmarks); checkpoints and exports stay NCHW.
  bool channelsLast = true;
  // Parameter dtype: "float32", or "float64" for exactness checks (e.g. data-parallel equivalence).
  std::string dtype = "float32";
  DataParallelConfig dataParallel;
  // Every check that needs no data, naming the field, the value and the allowed values.
  void validate() const;
  // SimCLR's CIFAR recipe with crop scale (0.2, 1) and no blur: the package's small-image default.
  static AugmentConfig defaultAugment();
};

// kAllReduce: the gradient all-reduce (and the buffer broadcast) of data-parallel training.
enum Phase { kAugment, kForward, kKeyBranch, kLoss, kBackward, kAllReduce, kOptimizer, kEma, kObjectiveUpdate, kNumPhases };
const std::array<const char*, kNumPhases>& phaseNames();

struct StepResult {
  double loss = 0;
  double lr = 0;
  double momentum = 0;
  int64_t step = 0;  // optimizer steps done after this one
  std::array<double, kNumPhases> ms{};
  PartStats gradRms{};  // rms of ∂L/∂h_b per part (NaN when the monitor is off)
  BlockGradStats gradBlocks;  // per block (networks().gradBlockNames()); empty when off
  std::vector<std::pair<std::string, double>> objectiveMetrics;  // Objective::metrics()
  // Wall time inside collectives this step (gathers, SyncBN, gradient all-reduce; 0 in one
  // process) and the gradient bytes all-reduced.
  double communicationMs = 0;
  int64_t allReduceBytes = 0;
};

struct ProbeResult {
  PartStats rms{};     // rms of ∂L/∂h_b on the probe batch
  PartStats cosine{};  // cosine with the previous probe's ∂L/∂h_b (NaN the first time)
  std::vector<double> blockRms, blockCosine;  // the same per block (gradBlockNames() order)
};

class SslModel {
 public:
  explicit SslModel(const SslConfig& cfg);

  // `batch`: uint8 [B,C,H,W] (B >= 2, C = backbone channels), any device. `sampleIndex`: int64
  // [B] dataset indices (masks same-sample queue negatives), or undefined. Validates everything
  // before changing any state.
  StepResult step(const torch::Tensor& batch, const torch::Tensor& sampleIndex);

  // Gradient of the loss w.r.t. each part's output on a fixed batch, with fixed augmentation,
  // without changing any state (no optimizer step, no EMA, no objective update, BN stats frozen).
  ProbeResult probe(const torch::Tensor& batch);

  // Backbone features in eval mode for uint8 images (normalised like training, no augmentation).
  torch::Tensor embed(const torch::Tensor& batch);

  SslNetworks& networks() { return *networks_; }
  const SslNetworks& networks() const { return *networks_; }
  Objective& objective() { return *objective_; }
  const Objective& objective() const { return *objective_; }
  BatchAugmenter& augmenter() { return *augmenter_; }
  torch::optim::Optimizer& optimizer() { return *optimizer_; }
  const SslConfig& config() const { return cfg_; }
  int64_t stepCount() const { return step_; }
  void setStepCount(int64_t s) { step_ = s; }
  double currentLr() const;
  double currentMomentum() const;
  // Whether this configuration runs the key branch (the objective's needs and the EMA parts).
  bool runsKeyBranch() const;

  // Joins a data-parallel group (design §9): every rank's networks (parameters, buffers, EMA
  // copies) take rank 0's values, the augmenter takes this rank's own stream, and from then on
  // each step averages gradients over the group and gathers negatives through it. Call on every
  // rank, before loading a checkpoint; nullptr detaches.
  void setCollectives(std::shared_ptr<Collectives> c);
  Collectives* collectives() const { return dist_.get(); }

 private:
  void checkBatch(const torch::Tensor& batch, const torch::Tensor& sampleIndex) const;
  // Augmented views → online forwards → keys: what the objective's loss reads.
  // `blocks`: keep the per-block outputs (gradient monitor and probe, design §5).
  StepViews forwardViews(const std::vector<torch::Tensor>& x, const torch::Tensor& sampleIndex, bool blocks);

  SslConfig cfg_;
  torch::Device device_;
  std::unique_ptr<SslNetworks> networks_;
  std::unique_ptr<Objective> objective_;
  std::unique_ptr<BatchAugmenter> augmenter_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  GradMonitor monitor_;
  int64_t step_ = 0;
  std::shared_ptr<Collectives> dist_;
  std::unique_ptr<GradientBuckets> buckets_;
  std::vector<torch::Tensor> buffers_;  // every BatchNorm buffer, broadcast from rank 0 each step
  // The seed of rank r's augmentation stream (rank 0's is the single-process stream).
  uint64_t augmentSeed(int rank) const;
};

}  // namespace mssl
