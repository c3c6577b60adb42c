// DINO (Caron et al., 2021, design §3.5): self-distillation with no labels. The teacher is the EMA
// of the student (ema.parts, full by default) and its outputs on the global views are centred
// (the centre is an EMA of the teacher's batch mean, with its own momentum) and sharpened (a
// teacher temperature warmed up linearly from warmupTeacherTemperature); the student's outputs on
// every view, local crops included, are trained towards them (dinoLoss). The projector ends in
// the prototype layer (projector.prototypes).
#include <cmath>
#include <stdexcept>

#include "core/collectives.h"
#include "core/dino_loss.h"
#include "core/objective.h"

namespace mssl {

const ObjectiveSpec& dinoObjectiveSpec() {
  static const ObjectiveSpec spec{
      "dino",
      "DINO cross-entropy of the centred, sharpened teacher (EMA) on the global views against the student on all other views",
      KeyUse::kAlways,
      PredictorUse::kForbidden,
      /*prototypes=*/true,
      /*localCrops=*/true,
      {
          {"studentTemperature", 0.1, 0.01, 10.0, false, ObjectiveOption::kNumber, "τ_s of the student softmax"},
          {"teacherTemperature", 0.07, 0.01, 10.0, false, ObjectiveOption::kNumber, "τ_t of the teacher softmax after warmup"},
          {"warmupTeacherTemperature", 0.04, 0.01, 10.0, false, ObjectiveOption::kNumber, "τ_t at step 0, linear to teacherTemperature"},
          {"teacherWarmupFraction", 0.3, 0.0, 1.0, false, ObjectiveOption::kNumber, "fraction of totalSteps over which τ_t warms up"},
          {"centerMomentum", 0.9, 0.0, 1.0, false, ObjectiveOption::kNumber, "momentum of the teacher-output centre"},
      },
  };
  return spec;
}

namespace {

class DinoObjective : public Objective {
 public:
  DinoObjective(const ObjectiveSpec& s, const ObjectiveConfig& c, const ObjectiveContext& ctx)
      : Objective(s, c),
        tauS_(c.get("studentTemperature")),
        tauT_(c.get("teacherTemperature")),
        tauT0_(c.get("warmupTeacherTemperature")),
        warmup_(c.get("teacherWarmupFraction")),
        centerMomentum_(c.get("centerMomentum")),
        center_(torch::zeros({1, ctx.networks.prototypes}, torch::TensorOptions().device(ctx.device))) {}

  double teacherTemperature(int64_t step, int64_t total) const {
    const double w = warmup_ * static_cast<double>(total);
    if (w <= 0 || static_cast<double>(step) >= w) return tauT_;
    return tauT0_ + (tauT_ - tauT0_) * static_cast<double>(step) / w;
  }

  torch::Tensor loss(const StepViews& v) override {
    std::vector<torch::Tensor> student;
    for (const auto& view : v.online) student.push_back(view.z);
    lastTauT_ = teacherTemperature(v.step, v.totalSteps);
    torch::Tensor l = dinoLoss(student, v.keys, center_, tauS_, lastTauT_);
    {
      // Mean entropy of the teacher distribution: near 0 means collapse onto one prototype,
      // near log K a uniform (also collapsed) output; centring and sharpening keep it between.
      torch::NoGradGuard noGrad;
      torch::Tensor p = dinoTeacherProbs(v.keys[0], center_, lastTauT_);
      lastEntropy_ = -(p * torch::log(p.clamp_min(1e-12))).sum(1).mean().item<double>();
    }
    return l;
  }

  void afterStep(const StepViews& v) override {
    torch::NoGradGuard noGrad;
    torch::Tensor keys = torch::cat(v.keys, 0);
    torch::Tensor batchCenter = keys.mean(0, /*keepdim=*/true).to(center_.scalar_type());
    if (v.dist && v.dist->worldSize() > 1) {
      // The mean over the whole data-parallel batch (DINO all-reduces it too): equal batches per
      // rank, so the mean of the ranks' means.
      std::vector<torch::Tensor> sum{batchCenter.contiguous()};
      v.dist->allReduceSum(sum);
      batchCenter = sum[0] / v.dist->worldSize();
    }
    center_.mul_(centerMomentum_).add_(batchCenter, 1.0 - centerMomentum_);
  }

  std::vector<std::pair<std::string, torch::Tensor>> state() const override { return {{"center", center_.clone()}}; }

  void loadState(const std::vector<std::pair<std::string, torch::Tensor>>& s) override {
    for (const auto& [k, t] : s) {
      if (k != "center") continue;
      if (!t.defined() || t.sizes() != center_.sizes() || !t.is_floating_point()) {
        throw std::invalid_argument("checkpoint: dino center must be a float tensor of shape [1, " + std::to_string(center_.size(1)) + "]");
      }
      if (!torch::isfinite(t).all().item<bool>()) throw std::invalid_argument("checkpoint: dino center is not finite");
      center_.copy_(t);
      return;
    }
    throw std::invalid_argument("checkpoint: dino objective state has no 'center'");
  }

  std::string signature() const override { return "dino prototypes " + std::to_string(center_.size(1)); }

  std::vector<std::pair<std::string, double>> metrics() const override {
    return {{"teacherTemperature", lastTauT_}, {"teacherEntropy", lastEntropy_}};
  }

 private:
  double tauS_, tauT_, tauT0_, warmup_, centerMomentum_;
  torch::Tensor center_;
  double lastTauT_ = NAN, lastEntropy_ = NAN;
};

}  // namespace

std::unique_ptr<Objective> makeDinoObjective(const ObjectiveSpec& s, const ObjectiveConfig& c, const ObjectiveContext& ctx) {
  return std::make_unique<DinoObjective>(s, c, ctx);
}

}  // namespace mssl
