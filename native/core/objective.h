// What a method computes (design §3): an objective declares what it needs from the training
// step (keys from the key branch or not, a predictor or not, local crops or not) and its own
// options with their defaults and ranges, computes the loss from the step's views and keys, and
// owns any state that lives across steps (a negative-key queue, DINO's centre), which goes into
// checkpoints. SslModel (ssl_model.h) runs the step and never looks at an objective's name.
//
// Adding an objective: one .cc file under native/core/objectives/ defining its ObjectiveSpec and
// a factory, and one line in objectiveRegistry() (objective.cc). See docs/design.md "How to add
// a method".
#pragma once
#include <torch/torch.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/ssl_networks.h"

namespace mssl {

class Collectives;  // collectives.h

// When the key branch runs (SslNetworks::forwardKey on each global view).
enum class KeyUse {
  kIfEma,   // only when the networks have EMA parts (NT-Xent: plain SimCLR without, momentum SimCLR with)
  kAlways,  // always; without EMA parts the keys are the detached online outputs (SimSiam's stop-gradient)
};

enum class PredictorUse { kForbidden, kRequired, kOptional };

// One option of an objective: a number (integer/boolean when flagged) with its default and range.
struct ObjectiveOption {
  std::string name;
  double defaultValue;
  double min, max;
  bool minExclusive = false;  // (min, max] instead of [min, max]
  enum Kind { kNumber, kInteger, kBoolean } kind = kNumber;
  std::string doc;
};

struct ObjectiveSpec {
  std::string name;
  std::string summary;  // one line: the definition, with the paper
  KeyUse keys = KeyUse::kAlways;
  PredictorUse predictor = PredictorUse::kOptional;
  bool prototypes = false;  // needs projector.prototypes > 0 (DINO)
  bool localCrops = false;  // accepts multi-crop local views (augment.localCrops > 0)
  std::vector<ObjectiveOption> options;
};

// The objective section of a config: its name and option values (missing options take the
// declared defaults).
struct ObjectiveConfig {
  std::string name = "ntxent";
  std::map<std::string, double> options;
  // Unknown name or option, value out of range or of the wrong kind: std::invalid_argument /
  // std::out_of_range naming objective.<option>, the value and the allowed range.
  void validate() const;
  // The value of a declared option (its default when not set).
  double get(const std::string& option) const;
};

// The output of one online forward per view: global views first, then local crops.
struct StepViews {
  std::vector<ViewForward> online;
  int64_t globalViews = 2;
  // forwardKey of each global view (empty when the key branch did not run).
  std::vector<torch::Tensor> keys;
  bool keysFromEma = false;  // the networks have EMA parts (else keys are detached online z)
  torch::Tensor sampleIndex; // [B] int64 dataset indices, or undefined
  int64_t step = 0;          // optimizer steps done before this one
  int64_t totalSteps = 1;    // T of the schedules
  // The data-parallel group (design §9), or nullptr in one process. Objectives that compare
  // samples across the batch gather through it; those that do not ignore it.
  Collectives* dist = nullptr;
};

// What an objective is built from besides its options.
struct ObjectiveContext {
  const SslNetworksConfig& networks;
  torch::Device device;
  int64_t globalViews;
  int64_t localCrops;
};

class Objective {
 public:
  Objective(const ObjectiveSpec& spec, ObjectiveConfig cfg) : spec_(&spec), cfg_(std::move(cfg)) {}
  virtual ~Objective() = default;
  const ObjectiveSpec& spec() const { return *spec_; }
  const ObjectiveConfig& config() const { return cfg_; }

  // Checks a step's inputs against this objective's needs before the step changes any state.
  virtual void checkStep(const torch::Tensor& batch, const torch::Tensor& sampleIndex) const {}
  // The scalar loss of the step (differentiable w.r.t. the online views).
  virtual torch::Tensor loss(const StepViews& v) = 0;
  // State updates after the optimizer and EMA updates (enqueue keys, move DINO's centre).
  virtual void afterStep(const StepViews& v) {}
  // Named state for checkpoints (copies), and its restore (validated before anything changes).
  virtual std::vector<std::pair<std::string, torch::Tensor>> state() const { return {}; }
  virtual void loadState(const std::vector<std::pair<std::string, torch::Tensor>>& s) {}
  // What fixes the layout of state(): part of the checkpoint signature.
  virtual std::string signature() const { return cfg_.name; }
  // Scalars of the last loss() to report with the step (e.g. DINO's teacher temperature and
  // entropy, the collapse monitor).
  virtual std::vector<std::pair<std::string, double>> metrics() const { return {}; }

 private:
  const ObjectiveSpec* spec_;
  ObjectiveConfig cfg_;
};

// An objective without state whose loss is a function of the views (BYOL, SimSiam).
std::unique_ptr<Objective> makeStatelessObjective(const ObjectiveSpec& spec, const ObjectiveConfig& cfg,
                                                  std::function<torch::Tensor(const StepViews&)> loss);
// The symmetrised regression of each view's predictor output onto the other view's key:
// 0.5·(ℓ(p1, k2) + ℓ(p2, k1)).
torch::Tensor symmetricRegression(const StepViews& v, torch::Tensor (*loss)(const torch::Tensor&, const torch::Tensor&));

using ObjectiveFactory = std::function<std::unique_ptr<Objective>(const ObjectiveSpec&, const ObjectiveConfig&, const ObjectiveContext&)>;

struct ObjectiveEntry {
  const ObjectiveSpec& (*spec)();
  ObjectiveFactory make;
};

// Every objective, in the order help text lists them.
const std::vector<ObjectiveEntry>& objectiveRegistry();
// The spec of `name`; std::invalid_argument listing the registered names otherwise.
const ObjectiveSpec& objectiveSpec(const std::string& name);
// Validates `cfg` and its needs against the networks and views, then builds the objective.
std::unique_ptr<Objective> makeObjective(const ObjectiveConfig& cfg, const ObjectiveContext& ctx);

// Each objective's spec and factory (native/core/objectives/*.cc).
const ObjectiveSpec& ntXentObjectiveSpec();
std::unique_ptr<Objective> makeNtXentObjective(const ObjectiveSpec&, const ObjectiveConfig&, const ObjectiveContext&);
const ObjectiveSpec& infoNceObjectiveSpec();
std::unique_ptr<Objective> makeInfoNceObjective(const ObjectiveSpec&, const ObjectiveConfig&, const ObjectiveContext&);
const ObjectiveSpec& byolObjectiveSpec();
std::unique_ptr<Objective> makeByolObjective(const ObjectiveSpec&, const ObjectiveConfig&, const ObjectiveContext&);
const ObjectiveSpec& simSiamObjectiveSpec();
std::unique_ptr<Objective> makeSimSiamObjective(const ObjectiveSpec&, const ObjectiveConfig&, const ObjectiveContext&);
const ObjectiveSpec& dinoObjectiveSpec();
std::unique_ptr<Objective> makeDinoObjective(const ObjectiveSpec&, const ObjectiveConfig&, const ObjectiveContext&);

}  // namespace mssl
