// SimSiam (Chen & He, 2021, design §3.4): the predictor's output against the other view's
// stop-gradient projection, D(p, z) = −cos(p, z), symmetrised. Without EMA parts the keys are the
// detached online projections (the stop-gradient); with EMA parts it becomes an EMA target, which
// is how "plug EMA into a momentum-free framework" is asked of SimSiam.
#include "core/objective.h"
#include "core/simsiam_loss.h"

namespace mssl {

const ObjectiveSpec& simSiamObjectiveSpec() {
  static const ObjectiveSpec spec{
      "simsiam", "SimSiam negative cosine −cos(p, sg(z)) of the predictor onto the other view's projection, symmetrised",
      KeyUse::kAlways, PredictorUse::kRequired, false, false, {},
  };
  return spec;
}

std::unique_ptr<Objective> makeSimSiamObjective(const ObjectiveSpec& s, const ObjectiveConfig& c, const ObjectiveContext&) {
  return makeStatelessObjective(s, c, [](const StepViews& v) { return symmetricRegression(v, &negativeCosine); });
}

}  // namespace mssl
