#include "core/step_runner.h"

#include <chrono>
#include <cmath>
#include <limits>
#include <sstream>
#include <stdexcept>

#include "core/byol_loss.h"
#include "core/finite_guard.h"
#include "core/infonce.h"
#include "core/ntxent.h"
#include "core/schedules.h"

namespace mssl {

const std::array<const char*, kNumPhases>& phaseNames() {
  static const std::array<const char*, kNumPhases> names = {"augment", "forward", "keyBranch", "loss",
                                                            "backward", "optimizer", "ema", "enqueue"};
  return names;
}

void StepConfig::validate(const SslModelConfig& model) const {
  if (loss != "ntxent" && loss != "infonce" && loss != "byol") {
    throw std::invalid_argument("loss must be one of ntxent, infonce, byol; got '" + loss + "'");
  }
  losscheck::temperature("loss.temperature", temperature);  // reliability #13: one range for every loss
  if (queueSize < 0) throw std::out_of_range("queueSize must be >= 0, got " + std::to_string(queueSize));
  if (loss == "infonce" && queueSize == 0 && !inBatchNegatives) {
    throw std::invalid_argument("infonce needs negatives: set queueSize >= 1 or inBatchNegatives");
  }
  if (loss != "infonce" && (queueSize > 0 || inBatchNegatives)) {
    throw std::invalid_argument("queueSize/inBatchNegatives apply to loss 'infonce' only");
  }
  if (loss == "byol" && model.predictorHidden == 0) throw std::invalid_argument("loss 'byol' needs a predictor (predictor.hiddenDim >= 1)");
  if (loss == "ntxent" && model.predictorHidden > 0) {
    throw std::invalid_argument("loss 'ntxent' does not use a predictor; set predictor.hiddenDim to 0");
  }
  if (totalSteps < 1) throw std::out_of_range("totalSteps must be >= 1, got " + std::to_string(totalSteps));
  if (warmupSteps < 0 || warmupSteps > totalSteps) throw std::out_of_range("warmupSteps must be in [0, totalSteps]");
  // reliability #13: bounded above so the schedule's arithmetic stays finite (finalLr 1e308 gave "lr ... got -inf").
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
  augment.validate(model.backbone.inChannels);
}

StepRunner::StepRunner(const SslModelConfig& model, const StepConfig& cfg) : cfg_(cfg), device_(torch::kCPU) {
  model.validate();
  cfg_.validate(model);
  device_ = torch::Device(cfg_.device);
  if (device_.is_cuda() && !torch::cuda::is_available()) throw std::invalid_argument("device 'cuda' requested but CUDA is not available");
  // Model init draws from LibTorch's global generator: seed it so a run is reproducible.
  torch::manual_seed(cfg_.seed);
  model_ = std::make_unique<SslModel>(model);
  model_->to(device_);
  model_->train(true);
  augmenter_ = std::make_unique<BatchAugmenter>(cfg_.augment, cfg_.seed * 2654435761ULL + 1);
  OptimConfig oc = cfg_.optim;
  oc.lr = currentLr();
  optimizer_ = makeOptimizer(oc, model_->trainableParameters());
  if (cfg_.queueSize > 0) {
    queue_ = std::make_unique<NegativeQueue>(cfg_.queueSize, model.projectorOut, torch::TensorOptions().device(device_));
  }
}

double StepRunner::currentLr() const {
  return warmupCosineLr(std::min(step_, cfg_.totalSteps), cfg_.totalSteps, cfg_.warmupSteps, cfg_.lr, cfg_.finalLr);
}

double StepRunner::currentMomentum() const {
  return momentumAt(std::min(step_, cfg_.totalSteps), cfg_.totalSteps, cfg_.momentumBase, cfg_.momentumFinal);
}

bool StepRunner::needsKeys() const { return cfg_.loss != "ntxent" || model_->anyEma(); }

void StepRunner::checkBatch(const torch::Tensor& batch, const torch::Tensor& sampleIndex) const {
  if (!batch.defined()) throw std::invalid_argument("batch: expected a uint8 tensor [B,C,H,W]");
  if (batch.scalar_type() != torch::kByte) {
    throw std::invalid_argument(std::string("batch: dtype must be uint8 (raw pixels), got ") + c10::toString(batch.scalar_type()));
  }
  if (batch.dim() != 4) throw std::invalid_argument("batch: expected shape [B,C,H,W], got " + std::to_string(batch.dim()) + " dims");
  const int64_t c = model_->config().backbone.inChannels;
  if (batch.size(1) != c) {
    throw std::invalid_argument("batch: expected " + std::to_string(c) + " channel(s) (backbone.inChannels), got " + std::to_string(batch.size(1)));
  }
  if (batch.size(0) < 2) throw std::out_of_range("batch: needs at least 2 images (contrastive negatives), got " + std::to_string(batch.size(0)));
  if (batch.size(2) < 2 || batch.size(3) < 2) throw std::out_of_range("batch: images must be at least 2x2 pixels");
  if (sampleIndex.defined()) {
    if (sampleIndex.scalar_type() != torch::kLong || sampleIndex.dim() != 1 || sampleIndex.size(0) != batch.size(0)) {
      throw std::invalid_argument("sampleIndex: expected an int64 tensor [B] matching the batch");
    }
    // reliability #13: the queue rejects negative indices at enqueue, after the weights changed; check here.
    if (sampleIndex.lt(0).any().item<bool>()) throw std::out_of_range("sampleIndex: values must be dataset indices >= 0");
  } else if (queue_) {
    throw std::invalid_argument("sampleIndex: required with a negative-key queue (loss.queueSize > 0): int64 [B] dataset indices, so a sample's own keys are never its negatives");
  }
}

torch::Tensor StepRunner::computeLoss(const ViewForward& v1, const ViewForward& v2, const torch::Tensor& k1, const torch::Tensor& k2,
                                      const torch::Tensor& index) {
  const double tau = cfg_.temperature;
  if (cfg_.loss == "ntxent") {
    if (model_->anyEma()) return momentumNtXent(v1.z, v2.z, k1, k2, tau);
    return ntXentPair(v1.z, v2.z, tau);
  }
  if (cfg_.loss == "byol") return 0.5 * (byolLoss(v1.p, k2) + byolLoss(v2.p, k1));
  // infonce: queries are predictor outputs when there is a predictor (MoCo v3), else z.
  const torch::Tensor& q1 = v1.p.defined() ? v1.p : v1.z;
  const torch::Tensor& q2 = v2.p.defined() ? v2.p : v2.z;
  InfoNceNegatives negs = queue_ ? queue_->negatives() : InfoNceNegatives{};
  return 0.5 * (infoNce(q1, k2, negs, index, cfg_.inBatchNegatives, tau) + infoNce(q2, k1, negs, index, cfg_.inBatchNegatives, tau));
}

StepResult StepRunner::step(const torch::Tensor& batchIn, const torch::Tensor& sampleIndexIn) {
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

  model_->train(true);
  torch::Tensor batch = batchIn.to(device_, /*non_blocking=*/true);
  torch::Tensor index = sampleIndexIn.defined() ? sampleIndexIn.to(device_) : torch::Tensor();
  torch::Tensor x1 = (*augmenter_)(batch);
  torch::Tensor x2 = (*augmenter_)(batch);
  mark(kAugment);

  ViewForward v1 = model_->forwardOnline(x1);
  ViewForward v2 = model_->forwardOnline(x2);
  if (cfg_.gradMonitor) {
    monitor_.attach(v1);
    monitor_.attach(v2);
  }
  mark(kForward);

  torch::Tensor k1, k2;
  if (needsKeys()) {
    k1 = model_->forwardKey(v1);
    k2 = model_->forwardKey(v2);
  }
  mark(kKeyBranch);

  checkFiniteOutputs(step_, currentLr(), {&v1.z, &v2.z, &k1, &k2});  // reliability #13: divergence guard
  torch::Tensor loss = computeLoss(v1, v2, k1, k2, index);
  const double lossValue = loss.item<double>();
  if (!std::isfinite(lossValue)) throw DivergedError(step_, currentLr(), "the loss is not finite (" + std::to_string(lossValue) + ")");
  mark(kLoss);

  optimizer_->zero_grad();
  loss.backward();
  r.gradRms.fill(std::numeric_limits<double>::quiet_NaN());
  if (cfg_.gradMonitor) r.gradRms = monitor_.takeRms();
  mark(kBackward);

  r.lr = currentLr();
  setLearningRate(*optimizer_, r.lr);
  // reliability #13: divergence guard (finite_guard.h) — nothing non-finite reaches the weights.
  checkFinite(step_, r.lr, loss, {{"backbone", model_->backbone().get()}, {"projector", model_->projector().get()}, {"predictor", model_->predictor().is_empty() ? nullptr : model_->predictor().get()}});
  optimizer_->step();
  mark(kOptimizer);

  r.momentum = currentMomentum();
  model_->updateEma(r.momentum);
  mark(kEma);

  // After both loss directions: a sample's own key is never its negative in the same step.
  if (queue_) {
    torch::Tensor keys = torch::cat({k1, k2}, 0);
    torch::Tensor idx = index.defined() ? torch::cat({index, index}, 0)
                                        : torch::full({keys.size(0)}, -1, torch::TensorOptions().dtype(torch::kLong).device(device_));
    queue_->enqueue(keys, idx);
  }
  mark(kEnqueue);

  ++step_;
  r.step = step_;
  r.loss = lossValue;
  return r;
}

ProbeResult StepRunner::probe(const torch::Tensor& batchIn) {
  checkBatch(batchIn, torch::Tensor());
  torch::Tensor batch = batchIn.to(device_);
  // The same views every probe: a fresh augmenter from a fixed seed, not the training stream.
  BatchAugmenter fixed(cfg_.augment, cfg_.seed ^ 0x9E3779B97F4A7C15ULL);
  torch::Tensor x1 = fixed(batch), x2 = fixed(batch);
  model_->train(true);
  auto freeze = model_->freezeRunningStats();
  ViewForward v1 = model_->forwardOnline(x1);
  ViewForward v2 = model_->forwardOnline(x2);
  torch::Tensor k1, k2;
  if (needsKeys()) {
    k1 = model_->forwardKey(v1);
    k2 = model_->forwardKey(v2);
  }
  torch::Tensor loss = computeLoss(v1, v2, k1, k2, torch::Tensor());
  std::vector<torch::Tensor> outputs;
  for (int b = 0; b < kNumParts; ++b) {
    outputs.push_back(v1.partOut[b]);
    outputs.push_back(v2.partOut[b]);
  }
  std::vector<torch::Tensor> grads = torch::autograd::grad({loss}, outputs, {}, /*retain_graph=*/false, /*create_graph=*/false,
                                                           /*allow_unused=*/true);
  std::array<torch::Tensor, kNumParts> perPart;
  ProbeResult r;
  r.rms.fill(std::numeric_limits<double>::quiet_NaN());
  for (int b = 0; b < kNumParts; ++b) {
    const torch::Tensor& g1 = grads[2 * b];
    const torch::Tensor& g2 = grads[2 * b + 1];
    if (!g1.defined() || !g2.defined()) continue;
    perPart[b] = torch::cat({g1.reshape({-1}), g2.reshape({-1})});
    r.rms[b] = std::sqrt(perPart[b].to(torch::kDouble).pow(2).mean().item<double>());
  }
  r.cosine = monitor_.probeCosine(perPart);
  return r;
}

torch::Tensor StepRunner::embed(const torch::Tensor& batch) {
  if (!batch.defined() || batch.scalar_type() != torch::kByte || batch.dim() != 4) {
    throw std::invalid_argument("images: expected a uint8 tensor [B,C,H,W]");
  }
  if (batch.size(1) != model_->config().backbone.inChannels) {
    throw std::invalid_argument("images: expected " + std::to_string(model_->config().backbone.inChannels) + " channel(s)");
  }
  // Chunks bound the activation memory when a whole dataset is embedded in one call.
  constexpr int64_t kChunk = 512;
  std::vector<torch::Tensor> out;
  for (int64_t start = 0; start < batch.size(0); start += kChunk) {
    torch::Tensor x = batch.slice(0, start, std::min(batch.size(0), start + kChunk)).to(device_);
    out.push_back(model_->embed(evalTransform(cfg_.augment, x)));
  }
  return out.empty() ? torch::empty({0, model_->featureDim()}) : torch::cat(out, 0);
}

}  // namespace mssl
