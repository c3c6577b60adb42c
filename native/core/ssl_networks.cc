#include "core/ssl_networks.h"

#include <algorithm>
#include <stdexcept>

namespace mssl {

const std::vector<std::string>& sslPartNames() {
  static const std::vector<std::string> names = {"stem", "layer1", "layer2", "layer3", "layer4", "projector"};
  return names;
}

int sslPartIndex(const std::string& name) {
  const auto& names = sslPartNames();
  auto it = std::find(names.begin(), names.end(), name);
  if (it == names.end()) {
    throw std::invalid_argument("ema.parts: unknown part '" + name +
                                "'; allowed: stem, layer1, layer2, layer3, layer4, projector");
  }
  return static_cast<int>(it - names.begin());
}

ResNetConfig defaultBackbone() {
  ResNetConfig c;
  c.width = 0.25;
  return c;
}

std::vector<std::string> emaPartsFromAlias(const std::string& alias) {
  if (alias == "none") return {};
  if (alias == "full") return sslPartNames();
  if (alias == "projector") return {"projector"};
  throw std::invalid_argument("ema.parts must be 'none', 'full', 'projector' or a list of stem, layer1, layer2, layer3, layer4, projector; got '" +
                              alias + "'");
}

void SslNetworksConfig::validate() const {
  backbone.validate();
  if (prototypes < 0) throw std::out_of_range("projector.prototypes must be >= 0 (0 = no prototype layer), got " + std::to_string(prototypes));
  if (projectorHidden < 1 || projectorOut < 1) {
    throw std::out_of_range("projector: hiddenDim and outDim must be >= 1, got " + std::to_string(projectorHidden) + " and " +
                            std::to_string(projectorOut));
  }
  if (predictorHidden < 0) throw std::out_of_range("predictor.hiddenDim must be >= 0 (0 = no predictor)");
  std::array<bool, kNumParts> seen{};
  for (const auto& p : emaParts) {
    int i = sslPartIndex(p);
    if (seen[i]) throw std::invalid_argument("ema.parts: part '" + p + "' is listed twice");
    seen[i] = true;
  }
}

namespace {

void collect(std::vector<torch::Tensor>& out, const std::vector<torch::Tensor>& add) { out.insert(out.end(), add.begin(), add.end()); }

void freezeParameters(torch::nn::Module& m) {
  for (auto& p : m.parameters()) p.set_requires_grad(false);
}

}  // namespace

RunningStatsFreeze::RunningStatsFreeze(const std::vector<std::shared_ptr<torch::nn::Module>>& modules) {
  for (const auto& m : modules) {
    if (!m) continue;
    for (auto& sub : m->modules(/*include_self=*/true)) {
      if (auto bn = std::dynamic_pointer_cast<torch::nn::BatchNorm2dImpl>(sub)) {
        save(bn->options.momentum(), bn->num_batches_tracked);
        bn->options.momentum(0.0);
        bn2d_.push_back(bn);
      } else if (auto bn1 = std::dynamic_pointer_cast<torch::nn::BatchNorm1dImpl>(sub)) {
        save(bn1->options.momentum(), bn1->num_batches_tracked);
        bn1->options.momentum(0.0);
        bn1d_.push_back(bn1);
      }
    }
  }
}

RunningStatsFreeze::~RunningStatsFreeze() {
  size_t i = 0;
  for (auto& bn : bn2d_) restore(bn->options, bn->num_batches_tracked, i++);
  for (auto& bn : bn1d_) restore(bn->options, bn->num_batches_tracked, i++);
}

void RunningStatsFreeze::save(c10::optional<double> momentum, const torch::Tensor& counter) {
  momenta_.push_back(momentum);
  counters_.push_back(counter.defined() ? counter.clone() : counter);
}

SslNetworks::SslNetworks(const SslNetworksConfig& cfg) : cfg_(cfg) {
  cfg_.validate();
  online_ = ResNet(cfg_.backbone);
  projector_ = Mlp(MlpConfig{online_->featureDim(), cfg_.projectorHidden, cfg_.projectorOut, cfg_.projectorLastBn, cfg_.prototypes});
  const int64_t z = cfg_.embeddingDim();
  if (cfg_.predictorHidden > 0) predictor_ = Mlp(MlpConfig{z, cfg_.predictorHidden, z, false, 0});

  for (const auto& p : cfg_.emaParts) emaMask_[sslPartIndex(p)] = true;
  for (int b = 0; b < kNumParts; ++b) {
    if (emaMask_[b]) {
      firstEma_ = b;
      break;
    }
  }
  if (!anyEma()) return;

  // EMA copies start equal to the online weights and are never trained by the optimizer.
  bool backboneEma = std::any_of(emaMask_.begin(), emaMask_.begin() + kProjectorPart, [](bool v) { return v; });
  if (backboneEma) {
    emaBackbone_ = ResNet(std::dynamic_pointer_cast<ResNetImpl>(online_->clone()));
    freezeParameters(*emaBackbone_);
  }
  if (emaMask_[kProjectorPart]) {
    emaProjector_ = Mlp(std::dynamic_pointer_cast<MlpImpl>(projector_->clone()));
    freezeParameters(*emaProjector_);
  }
  std::vector<torch::Tensor> onlineParams, emaParams;
  for (int b = 0; b < kProjectorPart; ++b) {
    if (!emaMask_[b]) continue;
    collect(onlineParams, online_->partParameters(b));
    collect(emaParams, emaBackbone_->partParameters(b));
  }
  if (emaMask_[kProjectorPart]) {
    collect(onlineParams, projector_->parameters());
    collect(emaParams, emaProjector_->parameters());
  }
  ema_ = std::make_unique<FusedEma>(onlineParams, emaParams);
}

std::vector<std::string> SslNetworks::emaPartNames() const {
  std::vector<std::string> out;
  for (int b = 0; b < kNumParts; ++b)
    if (emaMask_[b]) out.push_back(sslPartNames()[b]);
  return out;
}

ViewForward SslNetworks::forwardOnline(const torch::Tensor& x, bool blocks) {
  ViewForward v;
  v.input = x;
  torch::Tensor h = x;
  for (int b = 0; b < kProjectorPart; ++b) {
    h = blocks ? online_->forwardPartBlocks(b, h, v.blockOut) : online_->forwardPart(b, h);
    v.partOut[b] = h;
    ++onlineCalls_[b];
  }
  v.features = online_->pool(h);
  v.z = projector_->forward(v.features, blocks ? &v.blockOut : nullptr);
  v.partOut[kProjectorPart] = v.z;
  ++onlineCalls_[kProjectorPart];
  if (!predictor_.is_empty()) v.p = predictor_->forward(v.z);
  return v;
}

std::vector<std::string> SslNetworks::gradBlockNames() const {
  std::vector<std::string> names;
  const std::vector<int> parts = gradBlockParts();
  int index = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    index = i > 0 && parts[i] == parts[i - 1] ? index + 1 : 0;
    names.push_back(parts[i] == 0 ? "stem" : sslPartNames()[parts[i]] + "." + std::to_string(index));
  }
  return names;
}

std::vector<int> SslNetworks::gradBlockParts() const {
  std::vector<int> parts;
  for (int b = 0; b < kProjectorPart; ++b) parts.insert(parts.end(), online_->numBlocks(b), b);
  parts.insert(parts.end(), projector_->numStages(), kProjectorPart);
  return parts;
}

torch::Tensor SslNetworks::runPart(int part, const torch::Tensor& x, bool useEma) {
  ++keyCalls_[part];
  if (part == kProjectorPart) {
    if (useEma) return emaProjector_->forward(x);
    RunningStatsFreeze freeze({projector_.ptr()});
    return projector_->forward(x);
  }
  if (useEma) return emaBackbone_->forwardPart(part, x);
  RunningStatsFreeze freeze({online_->partModule(part)});
  return online_->forwardPart(part, x);
}

torch::Tensor SslNetworks::forwardKey(const ViewForward& v) {
  torch::NoGradGuard noGrad;
  if (!anyEma()) return v.z.detach();
  torch::Tensor h;
  if (firstEma_ == 0) h = v.input;
  else if (firstEma_ < kProjectorPart) h = v.partOut[firstEma_ - 1];
  else h = v.features;
  h = h.detach();
  for (int b = firstEma_; b < kProjectorPart; ++b) h = runPart(b, h, emaMask_[b]);
  if (firstEma_ < kProjectorPart) h = online_->pool(h);  // parameter-free
  return runPart(kProjectorPart, h, emaMask_[kProjectorPart]);
}

torch::Tensor SslNetworks::embed(const torch::Tensor& x) {
  torch::NoGradGuard noGrad;
  bool wasTraining = online_->is_training();
  online_->eval();
  torch::Tensor f;
  try {
    f = online_->forward(x);
  } catch (...) {
    online_->train(wasTraining);
    throw;
  }
  online_->train(wasTraining);
  return f;
}

void SslNetworks::updateEma(double m) {
  if (ema_) ema_->update(m);
}

std::vector<torch::Tensor> SslNetworks::trainableParameters() const {
  std::vector<torch::Tensor> out = online_->parameters();
  collect(out, projector_->parameters());
  if (!predictor_.is_empty()) collect(out, predictor_->parameters());
  return out;
}

int64_t SslNetworks::numTrainableParameters() const {
  int64_t n = 0;
  for (const auto& p : trainableParameters()) n += p.numel();
  return n;
}

void SslNetworks::resetForwardCounts() {
  onlineCalls_.fill(0);
  keyCalls_.fill(0);
}

void SslNetworks::train(bool on) {
  online_->train(on);
  projector_->train(on);
  if (!predictor_.is_empty()) predictor_->train(on);
  if (!emaBackbone_.is_empty()) emaBackbone_->train(on);
  if (!emaProjector_.is_empty()) emaProjector_->train(on);
}

void SslNetworks::to(const torch::Device& device) {
  online_->to(device);
  projector_->to(device);
  if (!predictor_.is_empty()) predictor_->to(device);
  if (!emaBackbone_.is_empty()) emaBackbone_->to(device);
  if (!emaProjector_.is_empty()) emaProjector_->to(device);
  rebindEma();
}

void SslNetworks::to(torch::Dtype dtype) {
  online_->to(dtype);
  projector_->to(dtype);
  if (!predictor_.is_empty()) predictor_->to(dtype);
  if (!emaBackbone_.is_empty()) emaBackbone_->to(dtype);
  if (!emaProjector_.is_empty()) emaProjector_->to(dtype);
  rebindEma();
}

torch::Dtype SslNetworks::dtype() const { return online_->parameters().front().scalar_type(); }

torch::Device SslNetworks::device() const { return online_->parameters().front().device(); }

std::unique_ptr<RunningStatsFreeze> SslNetworks::freezeRunningStats() {
  std::vector<std::shared_ptr<torch::nn::Module>> all = {online_.ptr(), projector_.ptr()};
  if (!predictor_.is_empty()) all.push_back(predictor_.ptr());
  if (!emaBackbone_.is_empty()) all.push_back(emaBackbone_.ptr());
  if (!emaProjector_.is_empty()) all.push_back(emaProjector_.ptr());
  return std::make_unique<RunningStatsFreeze>(all);
}

void SslNetworks::rebindEma() {
  if (ema_) ema_->rebind();
}

}  // namespace mssl
