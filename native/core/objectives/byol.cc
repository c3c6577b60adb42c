// BYOL (Grill et al., 2020, design §3.3): the predictor's output regresses the other view's key,
// 2 − 2·cos(p, k), symmetrised; no negatives.
#include "core/byol_loss.h"
#include "core/objective.h"

namespace mssl {

const ObjectiveSpec& byolObjectiveSpec() {
  static const ObjectiveSpec spec{
      "byol", "BYOL regression 2 − 2·cos(p, k) of the predictor onto the other view's key, symmetrised",
      KeyUse::kAlways, PredictorUse::kRequired, false, false, {},
  };
  return spec;
}

std::unique_ptr<Objective> makeByolObjective(const ObjectiveSpec& s, const ObjectiveConfig& c, const ObjectiveContext&) {
  return makeStatelessObjective(s, c, [](const StepViews& v) { return symmetricRegression(v, &byolLoss); });
}

}  // namespace mssl
