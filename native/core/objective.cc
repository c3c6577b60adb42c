#include "core/objective.h"

#include <cmath>
#include <sstream>
#include <stdexcept>

namespace mssl {

const std::vector<ObjectiveEntry>& objectiveRegistry() {
  // One line per objective.
  static const std::vector<ObjectiveEntry> entries = {
      {&ntXentObjectiveSpec, &makeNtXentObjective},
      {&infoNceObjectiveSpec, &makeInfoNceObjective},
      {&byolObjectiveSpec, &makeByolObjective},
      {&simSiamObjectiveSpec, &makeSimSiamObjective},
      {&dinoObjectiveSpec, &makeDinoObjective},
  };
  return entries;
}

namespace {

const ObjectiveEntry& entryOf(const std::string& name) {
  std::string known;
  for (const auto& e : objectiveRegistry()) {
    if (e.spec().name == name) return e;
    known += (known.empty() ? "" : ", ") + e.spec().name;
  }
  throw std::invalid_argument("objective.name must be one of " + known + "; got '" + name + "'");
}

std::string num(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

std::string rangeText(const ObjectiveOption& o) {
  if (o.kind == ObjectiveOption::kBoolean) return "true or false";
  std::string kind = o.kind == ObjectiveOption::kInteger ? "an integer" : "a number";
  return kind + " in " + (o.minExclusive ? "(" : "[") + num(o.min) + ", " + num(o.max) + "]";
}

}  // namespace

const ObjectiveSpec& objectiveSpec(const std::string& name) { return entryOf(name).spec(); }

void ObjectiveConfig::validate() const {
  const ObjectiveSpec& spec = objectiveSpec(name);
  for (const auto& [key, value] : options) {
    const ObjectiveOption* decl = nullptr;
    std::string known;
    for (const auto& o : spec.options) {
      if (o.name == key) decl = &o;
      known += (known.empty() ? "" : ", ") + o.name;
    }
    if (!decl) {
      throw std::invalid_argument("objective." + key + " is not an option of objective '" + name + "' (its options: " +
                                  (known.empty() ? "none" : known) + ")");
    }
    const bool inRange = std::isfinite(value) && (decl->minExclusive ? value > decl->min : value >= decl->min) && value <= decl->max;
    const bool kindOk = decl->kind == ObjectiveOption::kNumber || value == std::floor(value);
    if (!inRange || !kindOk) {
      throw std::out_of_range("objective." + key + " must be " + rangeText(*decl) + ", got " + num(value));
    }
  }
}

double ObjectiveConfig::get(const std::string& option) const {
  auto it = options.find(option);
  if (it != options.end()) return it->second;
  for (const auto& o : objectiveSpec(name).options) {
    if (o.name == option) return o.defaultValue;
  }
  throw std::logic_error("objective '" + name + "' declares no option '" + option + "'");
}

namespace {

class StatelessObjective : public Objective {
 public:
  StatelessObjective(const ObjectiveSpec& s, const ObjectiveConfig& c, std::function<torch::Tensor(const StepViews&)> loss)
      : Objective(s, c), loss_(std::move(loss)) {}
  torch::Tensor loss(const StepViews& v) override { return loss_(v); }

 private:
  std::function<torch::Tensor(const StepViews&)> loss_;
};

}  // namespace

std::unique_ptr<Objective> makeStatelessObjective(const ObjectiveSpec& spec, const ObjectiveConfig& cfg,
                                                  std::function<torch::Tensor(const StepViews&)> loss) {
  return std::make_unique<StatelessObjective>(spec, cfg, std::move(loss));
}

torch::Tensor symmetricRegression(const StepViews& v, torch::Tensor (*loss)(const torch::Tensor&, const torch::Tensor&)) {
  return 0.5 * (loss(v.online[0].p, v.keys[1]) + loss(v.online[1].p, v.keys[0]));
}

std::unique_ptr<Objective> makeObjective(const ObjectiveConfig& cfg, const ObjectiveContext& ctx) {
  cfg.validate();
  const ObjectiveEntry& e = entryOf(cfg.name);
  const ObjectiveSpec& spec = e.spec();
  const bool hasPredictor = ctx.networks.predictorHidden > 0;
  if (spec.predictor == PredictorUse::kRequired && !hasPredictor) {
    throw std::invalid_argument("objective '" + spec.name + "' needs a predictor: set predictor.hiddenDim >= 1");
  }
  if (spec.predictor == PredictorUse::kForbidden && hasPredictor) {
    throw std::invalid_argument("objective '" + spec.name + "' does not use a predictor: set predictor.hiddenDim to 0");
  }
  if (spec.prototypes && ctx.networks.prototypes < 1) {
    throw std::invalid_argument("objective '" + spec.name + "' needs a prototype layer: set projector.prototypes >= 1");
  }
  if (!spec.prototypes && ctx.networks.prototypes > 0) {
    throw std::invalid_argument("projector.prototypes applies to objective 'dino' only; objective '" + spec.name + "' needs it 0");
  }
  if (!spec.localCrops && ctx.localCrops > 0) {
    throw std::invalid_argument("augment.localCrops applies to multi-crop objectives (dino); objective '" + spec.name + "' needs it 0");
  }
  return e.make(spec, cfg, ctx);
}

}  // namespace mssl
