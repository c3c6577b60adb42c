// NT-Xent (SimCLR, Chen et al., 2020), and momentum NT-Xent when the networks have EMA parts
// (design §3.1): 0.5·(ℓ(z2; k1) + ℓ(z1; k2)), the keys from the key branch.
#include "core/collectives.h"
#include "core/ntxent.h"
#include "core/objective.h"

namespace mssl {

const ObjectiveSpec& ntXentObjectiveSpec() {
  static const ObjectiveSpec spec{
      "ntxent",
      "NT-Xent over two views (SimCLR); with EMA parts, momentum NT-Xent against the EMA keys",
      KeyUse::kIfEma,
      PredictorUse::kForbidden,
      /*prototypes=*/false,
      /*localCrops=*/false,
      {{"temperature", 0.2, 0.01, 10.0, false, ObjectiveOption::kNumber, "τ of the logits cos/τ"}},
  };
  return spec;
}

namespace {

class NtXentObjective : public Objective {
 public:
  NtXentObjective(const ObjectiveSpec& s, const ObjectiveConfig& c) : Objective(s, c), tau_(c.get("temperature")) {}
  torch::Tensor loss(const StepViews& v) override {
    const torch::Tensor &z1 = v.online[0].z, &z2 = v.online[1].z;
    if (v.dist && v.dist->worldSize() > 1) return gathered(*v.dist, v);
    if (v.keysFromEma) return momentumNtXent(z1, z2, v.keys[0], v.keys[1], tau_);
    return ntXentPair(z1, z2, tau_);
  }

 private:
  // Negatives from every rank (design §9): online embeddings gathered with their gradient, EMA
  // keys without; the same loss as one process over the concatenated batch.
  torch::Tensor gathered(Collectives& c, const StepViews& v) const {
    const torch::Tensor &z1 = v.online[0].z, &z2 = v.online[1].z;
    const int64_t offset = c.rank() * z1.size(0);
    torch::Tensor all1 = gatherWithGrad(c, z1), all2 = gatherWithGrad(c, z2);
    if (!v.keysFromEma) return ntXentPairGathered(z1, z2, all1, all2, offset, tau_);
    torch::Tensor k1 = v.keys[0].detach(), k2 = v.keys[1].detach();
    torch::Tensor allK1 = gatherNoGrad(c, k1), allK2 = gatherNoGrad(c, k2);
    return 0.5 * (ntXentPairGathered(z2, k1, all2, allK1, offset, tau_) + ntXentPairGathered(z1, k2, all1, allK2, offset, tau_));
  }

  double tau_;
};

}  // namespace

std::unique_ptr<Objective> makeNtXentObjective(const ObjectiveSpec& s, const ObjectiveConfig& c, const ObjectiveContext&) {
  return std::make_unique<NtXentObjective>(s, c);
}

}  // namespace mssl
