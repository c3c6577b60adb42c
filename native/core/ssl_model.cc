#include "core/ssl_model.h"

#include <chrono>
#include <cmath>
#include <limits>
#include <sstream>
#include <stdexcept>

#include "core/finite_guard.h"
#include "core/memory_format.h"
#include "core/schedules.h"
#include "core/sync_batch_norm.h"

namespace mssl {

const std::array<const char*, kNumPhases>& phaseNames() {
  static const std::array<const char*, kNumPhases> names = {"augment", "forward", "keyBranch", "loss", "backward",
                                                            "allReduce", "optimizer", "ema", "objectiveUpdate"};
  return names;
}

AugmentConfig SslConfig::defaultAugment() {
  AugmentConfig a;
  a.scaleMin = 0.2;
  a.blurP = 0.0;
  return a;
}

void SslConfig::validate() const {
  networks.validate();
  objective.validate();
  if (totalSteps < 1) throw std::out_of_range("totalSteps must be >= 1, got " + std::to_string(totalSteps));
  if (warmupSteps < 0 || warmupSteps > totalSteps) {
    throw std::out_of_range("optimizer.warmupSteps must be in [0, totalSteps = " + std::to_string(totalSteps) + "], got " + std::to_string(warmupSteps));
  }
  // Bounded above so the schedule's arithmetic stays finite (finalLr 1e308 gave "lr ... got -inf").
  constexpr double kMaxLr = 1e30;
  for (auto [name, v] : {std::pair<const char*, double>{"optimizer.lr", lr}, {"optimizer.finalLr", finalLr}}) {
    if (!(v >= 0 && v <= kMaxLr)) {
      std::ostringstream os;
      os << name << " must be a finite number in [0, 1e30], got " << v;
      throw std::out_of_range(os.str());
    }
  }
  for (double m : {momentumBase, momentumFinal}) {
    if (!(m >= 0 && m <= 1)) throw std::out_of_range("momentum (ema.base / ema.final) must be in [0, 1], got " + std::to_string(m));
  }
  if (device != "cpu" && device.rfind("cuda", 0) != 0) throw std::invalid_argument("device must be 'cpu' or 'cuda[:N]', got '" + device + "'");
  augment.validate(networks.backbone.inChannels);
  dataParallel.validate();
  if (dtype != "float32" && dtype != "float64") throw std::invalid_argument("dtype must be 'float32' or 'float64', got '" + dtype + "'");
}

SslModel::SslModel(const SslConfig& cfg) : cfg_(cfg), device_(torch::kCPU) {
  cfg_.validate();
  device_ = torch::Device(cfg_.device);
  if (device_.is_cuda() && !torch::cuda::is_available()) throw std::invalid_argument("device 'cuda' requested but CUDA is not available");
  objective_ = makeObjective(cfg_.objective, ObjectiveContext{cfg_.networks, device_, 2, cfg_.augment.localCrops});
  // Model init draws from LibTorch's global generator: seed it so a run is reproducible.
  torch::manual_seed(cfg_.seed);
  networks_ = std::make_unique<SslNetworks>(cfg_.networks);
  monitor_.setBlocks(networks_->gradBlockParts());
  networks_->to(device_);
  if (cfg_.dtype == "float64") networks_->to(torch::kDouble);
  if (cfg_.channelsLast) setModelMemoryFormat(*networks_, true);
  networks_->train(true);
  augmenter_ = std::make_unique<BatchAugmenter>(cfg_.augment, augmentSeed(0));
  OptimConfig oc = cfg_.optim;
  oc.lr = currentLr();
  optimizer_ = makeOptimizer(oc, networks_->trainableParameters());
}

double SslModel::currentLr() const {
  return warmupCosineLr(std::min(step_, cfg_.totalSteps), cfg_.totalSteps, cfg_.warmupSteps, cfg_.lr, cfg_.finalLr);
}

double SslModel::currentMomentum() const {
  return momentumAt(std::min(step_, cfg_.totalSteps), cfg_.totalSteps, cfg_.momentumBase, cfg_.momentumFinal);
}

uint64_t SslModel::augmentSeed(int rank) const { return cfg_.seed * 2654435761ULL + 1 + static_cast<uint64_t>(rank) * 0x9E3779B97F4A7C15ULL; }

void SslModel::setCollectives(std::shared_ptr<Collectives> c) {
  dist_ = std::move(c);
  buckets_.reset();
  buffers_.clear();
  // Per-sample streams are keyed by sample, not rank: every rank keeps rank 0's seed.
  augmenter_ = std::make_unique<BatchAugmenter>(cfg_.augment, augmentSeed(dist_ && !cfg_.augment.perSample ? dist_->rank() : 0));
  if (!dist_ || dist_->worldSize() == 1) return;
  std::vector<std::shared_ptr<torch::nn::Module>> modules = {networks_->backbone().ptr(), networks_->projector().ptr()};
  for (auto* m : {&networks_->predictor(), &networks_->emaProjector()}) {
    if (!m->is_empty()) modules.push_back(m->ptr());
  }
  if (!networks_->emaBackbone().is_empty()) modules.push_back(networks_->emaBackbone().ptr());
  std::vector<torch::Tensor> state;
  for (const auto& m : modules) {
    for (const auto& p : m->parameters()) state.push_back(p);
    for (const auto& b : m->buffers()) {
      state.push_back(b);
      buffers_.push_back(b);
    }
  }
  // Rank 0's initial state everywhere (EMA copies included, which start equal to the online ones).
  broadcastCoalesced(*dist_, state, 0);
  buckets_ = std::make_unique<GradientBuckets>(networks_->trainableParameters(), cfg_.dataParallel.bucketBytes);
}

bool SslModel::runsKeyBranch() const { return objective_->spec().keys == KeyUse::kAlways || networks_->anyEma(); }

void SslModel::checkBatch(const torch::Tensor& batch, const torch::Tensor& sampleIndex) const {
  if (!batch.defined()) throw std::invalid_argument("batch: expected a uint8 tensor [B,C,H,W]");
  if (batch.scalar_type() != torch::kByte) {
    throw std::invalid_argument(std::string("batch: dtype must be uint8 (raw pixels), got ") + c10::toString(batch.scalar_type()));
  }
  if (batch.dim() != 4) throw std::invalid_argument("batch: expected shape [B,C,H,W], got " + std::to_string(batch.dim()) + " dims");
  const int64_t c = cfg_.networks.backbone.inChannels;
  if (batch.size(1) != c) {
    throw std::invalid_argument("batch: expected " + std::to_string(c) + " channel(s) (backbone.inChannels), got " + std::to_string(batch.size(1)));
  }
  if (batch.size(0) < 2) throw std::out_of_range("batch: needs at least 2 images (BatchNorm and negatives), got " + std::to_string(batch.size(0)));
  if (batch.size(2) < 2 || batch.size(3) < 2) throw std::out_of_range("batch: images must be at least 2x2 pixels");
  if (sampleIndex.defined()) {
    if (sampleIndex.scalar_type() != torch::kLong || sampleIndex.dim() != 1 || sampleIndex.size(0) != batch.size(0)) {
      throw std::invalid_argument("sampleIndex: expected an int64 tensor [B] matching the batch");
    }
    // Checked before the step changes anything (the queue would only see them after the update).
    if (sampleIndex.numel() > 0 && sampleIndex.lt(0).any().item<bool>()) throw std::out_of_range("sampleIndex: values must be dataset indices >= 0");
  }
  if (cfg_.augment.perSample && !sampleIndex.defined()) {
    throw std::invalid_argument("sampleIndex: augment.perSample keys each sample's augmentation by its dataset index; pass the batch's sample indices");
  }
  objective_->checkStep(batch, sampleIndex);
}

StepViews SslModel::forwardViews(const std::vector<torch::Tensor>& x, const torch::Tensor& sampleIndex, bool blocks) {
  StepViews v;
  v.globalViews = 2;
  v.sampleIndex = sampleIndex;
  v.step = step_;
  v.totalSteps = cfg_.totalSteps;
  v.keysFromEma = networks_->anyEma();
  v.dist = dist_.get();
  for (const auto& xi : x) v.online.push_back(networks_->forwardOnline(inConvFormat(xi.to(networks_->dtype()), cfg_.channelsLast), blocks));
  return v;
}

StepResult SslModel::step(const torch::Tensor& batchIn, const torch::Tensor& sampleIndexIn) {
  checkBatch(batchIn, sampleIndexIn);
  using Clock = std::chrono::steady_clock;
  StepResult r;
  auto t = Clock::now();
  // Phase times are wall time; on CUDA, synchronise so each phase is charged its own kernels.
  auto mark = [&](Phase p) {
    if (device_.is_cuda()) torch::cuda::synchronize();
    auto now = Clock::now();
    r.ms[p] += std::chrono::duration<double, std::milli>(now - t).count();
    t = now;
  };

  networks_->train(true);
  const bool parallel = dist_ && dist_->worldSize() > 1;
  const double busy0 = parallel ? dist_->busyMs() : 0;
  // Local BatchNorm keeps rank 0's running statistics everywhere (DDP's broadcast_buffers).
  if (parallel && !cfg_.dataParallel.syncBatchNorm) broadcastCoalesced(*dist_, buffers_, 0);
  SyncBatchNormScope syncBn(parallel && cfg_.dataParallel.syncBatchNorm ? dist_.get() : nullptr);
  torch::Tensor batch = batchIn.to(device_, /*non_blocking=*/true);
  torch::Tensor index = sampleIndexIn.defined() ? sampleIndexIn.to(device_) : torch::Tensor();
  std::vector<torch::Tensor> x = augmenter_->views(batch, 2, index, step_);
  mark(kAugment);

  StepViews v = forwardViews(x, index, cfg_.gradMonitor);
  if (cfg_.gradMonitor) {
    for (auto& view : v.online) monitor_.attach(view);
  }
  mark(kForward);

  if (runsKeyBranch()) {
    for (int64_t i = 0; i < v.globalViews; ++i) v.keys.push_back(networks_->forwardKey(v.online[i]));
  }
  mark(kKeyBranch);

  // The divergence guard (finite_guard.h): a network that already overflows is named as diverged.
  std::vector<torch::Tensor> outputs = v.keys;
  for (const auto& view : v.online) outputs.push_back(view.z);
  checkFiniteOutputs(step_, currentLr(), outputs);
  torch::Tensor loss = objective_->loss(v);
  const double lossValue = loss.item<double>();
  if (!std::isfinite(lossValue)) throw DivergedError(step_, currentLr(), "the loss is not finite (" + std::to_string(lossValue) + ")");
  mark(kLoss);

  optimizer_->zero_grad();
  loss.backward();
  r.gradRms.fill(std::numeric_limits<double>::quiet_NaN());
  if (cfg_.gradMonitor) r.gradRms = monitor_.takeRms(&r.gradBlocks);
  mark(kBackward);

  double reported = lossValue;
  if (parallel) {
    buckets_->allReduceMean(*dist_);
    r.allReduceBytes = buckets_->lastBytes();
    // The step's loss is the mean over ranks: one process's loss over the whole batch.
    std::vector<torch::Tensor> l{torch::full({1}, lossValue, torch::TensorOptions().dtype(torch::kDouble).device(device_))};
    dist_->allReduceSum(l);
    reported = l[0].item<double>() / dist_->worldSize();
  }
  mark(kAllReduce);

  r.lr = currentLr();
  setLearningRate(*optimizer_, r.lr);
  // Nothing non-finite reaches the weights: loss, gradients, parameters and BN statistics.
  checkFinite(step_, r.lr, loss,
              {{"backbone", networks_->backbone().get()}, {"projector", networks_->projector().get()},
               {"predictor", networks_->predictor().is_empty() ? nullptr : networks_->predictor().get()}});
  optimizer_->step();
  mark(kOptimizer);

  r.momentum = currentMomentum();
  networks_->updateEma(r.momentum);
  mark(kEma);

  objective_->afterStep(v);
  mark(kObjectiveUpdate);

  ++step_;
  r.step = step_;
  r.loss = reported;
  if (parallel) r.communicationMs = dist_->busyMs() - busy0;
  r.objectiveMetrics = objective_->metrics();
  return r;
}

ProbeResult SslModel::probe(const torch::Tensor& batchIn) {
  checkBatch(batchIn, torch::Tensor());
  torch::Tensor batch = batchIn.to(device_);
  // The same views every probe: a fresh augmenter from a fixed seed, not the training stream.
  BatchAugmenter fixed(cfg_.augment, cfg_.seed ^ 0x9E3779B97F4A7C15ULL);
  std::vector<torch::Tensor> x = fixed.views(batch, 2);
  networks_->train(true);
  auto freeze = networks_->freezeRunningStats();
  StepViews v = forwardViews(x, torch::Tensor(), /*blocks=*/true);
  v.dist = nullptr;  // a probe is this rank's own measurement: no collectives
  if (runsKeyBranch()) {
    for (int64_t i = 0; i < v.globalViews; ++i) v.keys.push_back(networks_->forwardKey(v.online[i]));
  }
  torch::Tensor loss = objective_->loss(v);
  std::vector<torch::Tensor> outputs;
  for (int b = 0; b < kNumParts; ++b) {
    for (const auto& view : v.online) outputs.push_back(view.partOut[b]);
  }
  const int nb = monitor_.numBlocks();
  for (int k = 0; k < nb; ++k) {
    for (const auto& view : v.online) outputs.push_back(view.blockOut[k]);
  }
  std::vector<torch::Tensor> grads = torch::autograd::grad({loss}, outputs, {}, /*retain_graph=*/false, /*create_graph=*/false,
                                                           /*allow_unused=*/true);
  const size_t nv = v.online.size();
  std::array<torch::Tensor, kNumParts> perPart;
  ProbeResult r;
  r.rms.fill(std::numeric_limits<double>::quiet_NaN());
  for (int b = 0; b < kNumParts; ++b) {
    std::vector<torch::Tensor> flat;
    for (size_t i = 0; i < nv; ++i) {
      const torch::Tensor& g = grads[b * nv + i];
      if (g.defined()) flat.push_back(g.reshape({-1}));
    }
    if (flat.size() != nv) continue;
    perPart[b] = torch::cat(flat);
    r.rms[b] = std::sqrt(perPart[b].to(torch::kDouble).pow(2).mean().item<double>());
  }
  r.cosine = monitor_.probeCosine(perPart);
  // Blocks: the same over the views, after the parts in `grads`.
  std::vector<torch::Tensor> perBlock(nb);
  r.blockRms.assign(nb, std::numeric_limits<double>::quiet_NaN());
  for (int k = 0; k < nb; ++k) {
    std::vector<torch::Tensor> flat;
    for (size_t i = 0; i < nv; ++i) {
      const torch::Tensor& g = grads[(kNumParts + k) * nv + i];
      if (g.defined()) flat.push_back(g.reshape({-1}));
    }
    if (flat.size() != nv) continue;
    perBlock[k] = torch::cat(flat);
    r.blockRms[k] = std::sqrt(perBlock[k].to(torch::kDouble).pow(2).mean().item<double>());
  }
  r.blockCosine = monitor_.probeBlockCosine(perBlock);
  return r;
}

torch::Tensor SslModel::embed(const torch::Tensor& batch) {
  if (!batch.defined() || batch.scalar_type() != torch::kByte || batch.dim() != 4) {
    throw std::invalid_argument("images: expected a uint8 tensor [B,C,H,W]");
  }
  if (batch.size(1) != cfg_.networks.backbone.inChannels) {
    throw std::invalid_argument("images: expected " + std::to_string(cfg_.networks.backbone.inChannels) + " channel(s)");
  }
  // Chunks bound the activation memory when a whole dataset is embedded in one call.
  constexpr int64_t kChunk = 512;
  std::vector<torch::Tensor> out;
  for (int64_t start = 0; start < batch.size(0); start += kChunk) {
    torch::Tensor x = batch.slice(0, start, std::min(batch.size(0), start + kChunk)).to(device_);
    out.push_back(networks_->embed(inConvFormat(evalTransform(cfg_.augment, x).to(networks_->dtype()), cfg_.channelsLast)));
  }
  return out.empty() ? torch::empty({0, networks_->featureDim()}) : torch::cat(out, 0);
}

}  // namespace mssl
