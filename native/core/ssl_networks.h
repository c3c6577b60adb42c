// The networks of an SSL model (design §1–§2): backbone → projector [→ predictor], six named
// parts, EMA copies of the parts in `emaParts`, and the key branch that reuses online activations
// up to the first EMA part. The training state around them (objective, optimizer, augmenter) is
// SslModel (ssl_model.h).
#pragma once
#include <torch/torch.h>

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "core/ema.h"
#include "core/mlp.h"
#include "core/resnet.h"

namespace mssl {

constexpr int kNumParts = 6;  // stem, layer1..layer4, projector
constexpr int kProjectorPart = 5;

// {"stem","layer1","layer2","layer3","layer4","projector"}
const std::vector<std::string>& sslPartNames();
// Index of a part name; std::invalid_argument naming the allowed names otherwise.
int sslPartIndex(const std::string& name);
// 'none' → {}, 'full' → all six parts, 'projector' → {"projector"}; std::invalid_argument otherwise.
std::vector<std::string> emaPartsFromAlias(const std::string& alias);

// The package's CPU-scale model: width-0.25 ResNet-18 with the CIFAR stem.
ResNetConfig defaultBackbone();

struct SslNetworksConfig {
  ResNetConfig backbone = defaultBackbone();
  // SimCLR's 2048→128 at full width, scaled down with the backbone.
  int64_t projectorHidden = 512;
  int64_t projectorOut = 128;
  bool projectorLastBn = false;  // BatchNorm1d on the projector output (SimSiam, MoCo v3)
  int64_t prototypes = 0;        // > 0: DINO's prototype layer ends the projector (mlp.h)
  int64_t predictorHidden = 0;   // 0: no predictor (SimCLR, MoCo v2); BYOL / SimSiam / MoCo v3 set it
  std::vector<std::string> emaParts;  // any subset of sslPartNames(); order irrelevant
  void validate() const;
  // Width of z: the projector's output (prototype logits with prototypes > 0).
  int64_t embeddingDim() const { return prototypes > 0 ? prototypes : projectorOut; }
};

// While alive, the BatchNorm layers of the given modules normalise with batch statistics (train
// mode) but leave their running statistics as they were: momentum 0 keeps running_mean/var, and
// the batch counter is restored.
class RunningStatsFreeze {
 public:
  explicit RunningStatsFreeze(const std::vector<std::shared_ptr<torch::nn::Module>>& modules);
  ~RunningStatsFreeze();
  RunningStatsFreeze(const RunningStatsFreeze&) = delete;
  RunningStatsFreeze& operator=(const RunningStatsFreeze&) = delete;

 private:
  void save(c10::optional<double> momentum, const torch::Tensor& counter);
  template <typename Options>
  void restore(Options& opts, torch::Tensor& counter, size_t i) {
    opts.momentum(momenta_[i]);
    if (counter.defined()) counter.copy_(counters_[i]);
  }
  std::vector<std::shared_ptr<torch::nn::BatchNorm2dImpl>> bn2d_;
  std::vector<std::shared_ptr<torch::nn::BatchNorm1dImpl>> bn1d_;
  std::vector<c10::optional<double>> momenta_;
  std::vector<torch::Tensor> counters_;
};

// What one online forward of one view leaves behind. partOut[b] is h_b, the output of part b
// (for layer4 the feature map; features = pooled layer4); the gradient monitor hooks these.
struct ViewForward {
  torch::Tensor input;
  std::array<torch::Tensor, kNumParts> partOut;
  torch::Tensor features;  // pooled backbone output, the projector's input
  torch::Tensor z;         // projector output
  torch::Tensor p;         // predictor output (undefined without predictor)
  // Per-block outputs in gradBlockNames() order, only from forwardOnline(x, true) (design §5);
  // the last block of each part is the same tensor as its partOut.
  std::vector<torch::Tensor> blockOut;
};

class SslNetworks {
 public:
  explicit SslNetworks(const SslNetworksConfig& cfg);

  // Online forward of one view (grad enabled if the caller's mode allows it).
  // `blocks`: also keep every block's output in blockOut (the gradient monitor's hooks).
  ViewForward forwardOnline(const torch::Tensor& x, bool blocks = false);
  // stem, layer1.0, layer1.1, ..., layer4.<last>, projector.0, projector.1[, projector.2]:
  // the blocks of blockOut, from the configured depth and projector; gradBlockParts() gives
  // each one's part index.
  std::vector<std::string> gradBlockNames() const;
  std::vector<int> gradBlockParts() const;
  // Key branch (no grad): every EMA part uses its EMA weights, every other part the online ones;
  // starts from the online activation entering the first EMA part. Returns the key embedding.
  // Online parts run here use batch statistics without touching their running stats (the
  // online forward already updated them). Without EMA parts it is the detached online z.
  torch::Tensor forwardKey(const ViewForward& v);
  // Backbone features in eval mode (kNN / linear probe / embed()).
  torch::Tensor embed(const torch::Tensor& x);

  void updateEma(double m);
  bool hasEma(int part) const { return emaMask_[part]; }
  bool anyEma() const { return firstEma_ < kNumParts; }
  int firstEmaPart() const { return firstEma_; }
  std::vector<std::string> emaPartNames() const;

  // Parameters the optimizer trains: online backbone, projector, predictor.
  std::vector<torch::Tensor> trainableParameters() const;
  int64_t numTrainableParameters() const;
  int64_t numEmaParameters() const { return ema_ ? ema_->numel() : 0; }
  int64_t featureDim() const { return online_->featureDim(); }

  // Calls of each part's forward since construction (or resetForwardCounts), online and key
  // branch separately: the key-branch cost of a configuration, measured by counting.
  const std::array<int64_t, kNumParts>& onlineForwardCounts() const { return onlineCalls_; }
  const std::array<int64_t, kNumParts>& keyForwardCounts() const { return keyCalls_; }
  void resetForwardCounts();

  void train(bool on);
  void to(const torch::Device& device);
  // Casts every network (online, predictor, EMA copies) to `dtype`; SslModel casts its inputs to
  // dtype(). float64 is for exactness checks (the data-parallel equivalence test).
  void to(torch::Dtype dtype);
  torch::Dtype dtype() const;
  torch::Device device() const;
  const SslNetworksConfig& config() const { return cfg_; }

  ResNet& backbone() { return online_; }
  Mlp& projector() { return projector_; }
  Mlp& predictor() { return predictor_; }  // null module without predictor
  ResNet& emaBackbone() { return emaBackbone_; }  // null module unless a backbone part is EMA'd
  Mlp& emaProjector() { return emaProjector_; }  // null module unless the projector is EMA'd
  // Freezes the running statistics of every BatchNorm of the model (online and EMA) while alive:
  // for measurements (gradient probes) that must not change the model.
  std::unique_ptr<RunningStatsFreeze> freezeRunningStats();
  // Re-flattens the EMA buffers after parameters were replaced (checkpoint load, .to()).
  void rebindEma();

 private:
  torch::Tensor runPart(int part, const torch::Tensor& x, bool useEma);

  SslNetworksConfig cfg_;
  std::array<bool, kNumParts> emaMask_{};
  int firstEma_ = kNumParts;
  ResNet online_{nullptr};
  Mlp projector_{nullptr};
  Mlp predictor_{nullptr};
  ResNet emaBackbone_{nullptr};
  Mlp emaProjector_{nullptr};
  std::unique_ptr<FusedEma> ema_;
  std::array<int64_t, kNumParts> onlineCalls_{};
  std::array<int64_t, kNumParts> keyCalls_{};
};

}  // namespace mssl
