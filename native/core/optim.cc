#include "core/optim.h"

#include <torch/torch.h>

#include <cmath>
#include <sstream>
#include <stdexcept>

#include "core/lars.h"

namespace mssl {

namespace {

std::string num(double v) {
  std::ostringstream os;
  os.precision(17);
  os << v;
  return os.str();
}

void checkConfig(const OptimConfig& c) {
  if (c.name != "sgd" && c.name != "lars" && c.name != "adamw") {
    throw std::invalid_argument("makeOptimizer: name must be one of 'sgd', 'lars', 'adamw', got '" + c.name + "'");
  }
  if (!(c.lr >= 0 && std::isfinite(c.lr))) throw std::out_of_range("makeOptimizer: lr must be a finite number >= 0, got " + num(c.lr));
  if (!(c.weightDecay >= 0 && std::isfinite(c.weightDecay))) {
    throw std::out_of_range("makeOptimizer: weightDecay must be a finite number >= 0, got " + num(c.weightDecay));
  }
  if (c.name == "sgd" || c.name == "lars") {
    if (!(c.momentum >= 0 && c.momentum < 1)) {
      throw std::out_of_range("makeOptimizer: momentum must be in [0, 1), got " + num(c.momentum));
    }
  }
  if (c.nesterov && c.name != "sgd") {
    throw std::invalid_argument("makeOptimizer: nesterov applies to 'sgd' only, not '" + c.name + "'");
  }
  if (c.nesterov && !(c.momentum > 0)) {
    throw std::out_of_range("makeOptimizer: nesterov needs momentum in (0, 1), got " + num(c.momentum));
  }
  if (c.name == "lars" && !(c.eta > 0 && std::isfinite(c.eta))) {
    throw std::out_of_range("makeOptimizer: eta (LARS trust coefficient) must be a finite number > 0, got " + num(c.eta));
  }
  if (c.name == "adamw") {
    if (!(c.beta1 >= 0 && c.beta1 < 1)) throw std::out_of_range("makeOptimizer: beta1 must be in [0, 1), got " + num(c.beta1));
    if (!(c.beta2 >= 0 && c.beta2 < 1)) throw std::out_of_range("makeOptimizer: beta2 must be in [0, 1), got " + num(c.beta2));
    if (!(c.eps > 0 && std::isfinite(c.eps))) throw std::out_of_range("makeOptimizer: eps must be a finite number > 0, got " + num(c.eps));
  }
}

// Options for one group; `decayed` is false for the excluded (ndim ≤ 1) group.
std::unique_ptr<torch::optim::OptimizerOptions> groupOptions(const OptimConfig& c, bool decayed) {
  const double wd = decayed ? c.weightDecay : 0.0;
  if (c.name == "sgd") {
    return std::make_unique<torch::optim::SGDOptions>(
        torch::optim::SGDOptions(c.lr).momentum(c.momentum).weight_decay(wd).nesterov(c.nesterov));
  }
  if (c.name == "adamw") {
    return std::make_unique<torch::optim::AdamWOptions>(
        torch::optim::AdamWOptions(c.lr).betas(std::make_tuple(c.beta1, c.beta2)).eps(c.eps).weight_decay(wd));
  }
  return std::make_unique<LARSOptions>(LARSOptions(c.lr).momentum(c.momentum).weight_decay(wd).eta(c.eta).adapt(decayed));
}

}  // namespace

std::unique_ptr<torch::optim::Optimizer> makeOptimizer(const OptimConfig& cfg, const std::vector<torch::Tensor>& params) {
  checkConfig(cfg);
  for (size_t i = 0; i < params.size(); ++i) {
    if (!params[i].defined()) throw std::invalid_argument("makeOptimizer: params[" + std::to_string(i) + "] is undefined");
  }
  std::vector<torch::optim::OptimizerParamGroup> groups;
  if (cfg.excludeBiasAndNorm) {
    std::vector<torch::Tensor> weights, others;
    for (const auto& p : params) (p.dim() >= 2 ? weights : others).push_back(p);
    if (!weights.empty()) groups.emplace_back(weights, groupOptions(cfg, true));
    if (!others.empty()) groups.emplace_back(others, groupOptions(cfg, false));
  } else if (!params.empty()) {
    groups.emplace_back(params, groupOptions(cfg, true));
  }
  // Defaults describe the decayed group (used by add_param_group for groups without options).
  if (cfg.name == "sgd") {
    auto o = static_cast<torch::optim::SGDOptions&>(*groupOptions(cfg, true));
    return std::make_unique<torch::optim::SGD>(std::move(groups), o);
  }
  if (cfg.name == "adamw") {
    auto o = static_cast<torch::optim::AdamWOptions&>(*groupOptions(cfg, true));
    return std::make_unique<torch::optim::AdamW>(std::move(groups), o);
  }
  auto o = static_cast<LARSOptions&>(*groupOptions(cfg, true));
  return std::make_unique<LARS>(std::move(groups), o);
}

void setLearningRate(torch::optim::Optimizer& opt, double lr) {
  if (!(lr >= 0 && std::isfinite(lr))) throw std::out_of_range("setLearningRate: lr must be a finite number >= 0, got " + num(lr));
  for (auto& g : opt.param_groups()) g.options().set_lr(lr);
}

double learningRate(const torch::optim::Optimizer& opt) {
  const auto& groups = opt.param_groups();
  return groups.empty() ? 0.0 : groups.front().options().get_lr();
}

}  // namespace mssl
