// InfoNCE (MoCo, He et al., 2020; v3 Chen et al., 2021; design §3.2): each view's query against the
// other view's key, with negatives from a queue of past keys (v2) and/or the batch's other keys
// (v3). The queue (design §4) is this objective's state: enqueued after both loss directions.
#include <stdexcept>

#include "core/collectives.h"
#include "core/infonce.h"
#include "core/objective.h"
#include "core/queue.h"

namespace mssl {

const ObjectiveSpec& infoNceObjectiveSpec() {
  static const ObjectiveSpec spec{
      "infonce",
      "InfoNCE of each view's query (predictor output if any, else z) against the other view's key, queue and/or in-batch negatives",
      KeyUse::kAlways,
      PredictorUse::kOptional,
      false,
      false,
      {
          {"temperature", 0.2, 0.01, 10.0, false, ObjectiveOption::kNumber, "τ of the logits cos/τ"},
          {"queueSize", 0, 0, 1 << 24, false, ObjectiveOption::kInteger, "negative keys kept across steps (0 = no queue)"},
          {"inBatchNegatives", 0, 0, 1, false, ObjectiveOption::kBoolean, "the batch's other keys are negatives too (MoCo v3)"},
      },
  };
  return spec;
}

namespace {

class InfoNceObjective : public Objective {
 public:
  InfoNceObjective(const ObjectiveSpec& s, const ObjectiveConfig& c, const ObjectiveContext& ctx)
      : Objective(s, c), tau_(c.get("temperature")), inBatch_(c.get("inBatchNegatives") != 0) {
    const auto queueSize = static_cast<int64_t>(c.get("queueSize"));
    if (queueSize == 0 && !inBatch_) throw std::invalid_argument("objective 'infonce' needs negatives: set objective.queueSize >= 1 or objective.inBatchNegatives");
    if (queueSize > 0) queue_ = std::make_unique<NegativeQueue>(queueSize, ctx.networks.embeddingDim(), torch::TensorOptions().device(ctx.device));
  }

  torch::Tensor loss(const StepViews& v) override {
    // Queries are predictor outputs when there is a predictor (MoCo v3), else z.
    const torch::Tensor& q1 = v.online[0].p.defined() ? v.online[0].p : v.online[0].z;
    const torch::Tensor& q2 = v.online[1].p.defined() ? v.online[1].p : v.online[1].z;
    InfoNceNegatives negs = queue_ ? queue_->negatives() : InfoNceNegatives{};
    // The queue keeps float32; networks cast to another dtype (float64 checks) compare in theirs.
    if (negs.keys.defined()) negs.keys = negs.keys.to(q1.scalar_type());
    if (inBatch_ && v.dist && v.dist->worldSize() > 1) {
      // MoCo v3 over ranks (design §9): the other ranks' keys are in-batch negatives too, as if
      // the batch were one; the local ones stay in infoNce's in-batch term.
      return 0.5 * (infoNce(q1, v.keys[1], withOtherRanks(*v.dist, negs, v.keys[1], v.sampleIndex), v.sampleIndex, true, tau_) +
                    infoNce(q2, v.keys[0], withOtherRanks(*v.dist, negs, v.keys[0], v.sampleIndex), v.sampleIndex, true, tau_));
    }
    return 0.5 * (infoNce(q1, v.keys[1], negs, v.sampleIndex, inBatch_, tau_) + infoNce(q2, v.keys[0], negs, v.sampleIndex, inBatch_, tau_));
  }

  // After both loss directions: a sample's own key is never its negative in the same step.
  // Keys (and sample indices) are gathered from every rank first, so every rank's queue holds the
  // same keys in the same order (design §9).
  void afterStep(const StepViews& v) override {
    if (!queue_) return;
    torch::Tensor idx = v.sampleIndex.defined() ? v.sampleIndex
                                                : torch::full({v.keys[0].size(0)}, NegativeQueue::kUnknownSample, torch::TensorOptions().dtype(torch::kLong).device(v.keys[0].device()));
    torch::Tensor k1 = v.keys[0], k2 = v.keys[1];
    if (v.dist && v.dist->worldSize() > 1) {
      k1 = gatherNoGrad(*v.dist, k1);
      k2 = gatherNoGrad(*v.dist, k2);
      idx = gatherNoGrad(*v.dist, idx);
    }
    queue_->enqueue(torch::cat({k1, k2}, 0), torch::cat({idx, idx}, 0));
  }

  std::vector<std::pair<std::string, torch::Tensor>> state() const override {
    std::vector<std::pair<std::string, torch::Tensor>> out;
    if (queue_) {
      for (auto& [k, t] : queue_->state()) out.emplace_back("queue." + k, t);
    }
    return out;
  }

  void loadState(const std::vector<std::pair<std::string, torch::Tensor>>& s) override {
    if (!queue_) return;
    std::vector<std::pair<std::string, torch::Tensor>> q;
    for (const auto& [k, t] : s) {
      if (k.rfind("queue.", 0) == 0) q.emplace_back(k.substr(6), t);
    }
    queue_->loadState(q);
  }

  std::string signature() const override { return "infonce queue " + std::to_string(queue_ ? queue_->size() : 0); }

 private:
  // The queue's negatives plus every other rank's keys for this view.
  static InfoNceNegatives withOtherRanks(Collectives& c, const InfoNceNegatives& queue, const torch::Tensor& keys, const torch::Tensor& sampleIndex) {
    const int64_t n = keys.size(0), r = c.rank(), W = c.worldSize();
    auto longOpts = torch::TensorOptions().dtype(torch::kLong).device(keys.device());
    torch::Tensor idx = sampleIndex.defined() ? sampleIndex : torch::full({n}, NegativeQueue::kUnknownSample, longOpts);
    torch::Tensor allK = gatherNoGrad(c, keys.detach()), allIdx = gatherNoGrad(c, idx);
    torch::Tensor others = torch::cat({torch::arange(0, r * n, longOpts), torch::arange((r + 1) * n, W * n, longOpts)});
    InfoNceNegatives out;
    torch::Tensor otherK = allK.index_select(0, others), otherIdx = allIdx.index_select(0, others);
    if (!queue.keys.defined()) {
      out.keys = otherK;
      out.sampleIndex = otherIdx;
      return out;
    }
    const int64_t K = queue.keys.size(0);
    out.keys = torch::cat({queue.keys, otherK}, 0);
    out.valid = torch::cat({queue.valid.defined() ? queue.valid : torch::ones({K}, longOpts.dtype(torch::kBool)),
                            torch::ones({otherK.size(0)}, longOpts.dtype(torch::kBool))});
    out.sampleIndex = torch::cat({queue.sampleIndex.defined() ? queue.sampleIndex : torch::full({K}, NegativeQueue::kUnknownSample, longOpts), otherIdx});
    return out;
  }

  double tau_;
  bool inBatch_;
  std::unique_ptr<NegativeQueue> queue_;
};

}  // namespace

std::unique_ptr<Objective> makeInfoNceObjective(const ObjectiveSpec& s, const ObjectiveConfig& c, const ObjectiveContext& ctx) {
  return std::make_unique<InfoNceObjective>(s, c, ctx);
}

}  // namespace mssl
