#include "core/lars.h"

#include <torch/optim/serialize.h>
#include <torch/torch.h>

#include <cmath>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace mssl {

namespace {

// Optimizer state is keyed by the parameter's TensorImpl: a string of its address in LibTorch
// 1.x, the address itself in later versions. Follow whichever this LibTorch uses, so that
// torch::optim::serialize (which re-keys loaded state) and step() agree.
template <typename Map>
typename Map::key_type stateKey(const Map&, const torch::Tensor& p) {
  using Key = typename Map::key_type;
  if constexpr (std::is_same<Key, std::string>::value) {
    std::ostringstream os;
    os << static_cast<const void*>(p.unsafeGetTensorImpl());
    return os.str();
  } else {
    return static_cast<Key>(p.unsafeGetTensorImpl());
  }
}

void writeDouble(torch::serialize::OutputArchive& a, const char* key, double v) { a.write(key, c10::IValue(v)); }

void readDouble(torch::serialize::InputArchive& a, const char* key, double& v) {
  c10::IValue iv;
  if (a.try_read(key, iv)) v = iv.toDouble();
}

std::string num(double v) {
  std::ostringstream os;
  os.precision(17);
  os << v;
  return os.str();
}

}  // namespace

LARSOptions::LARSOptions(double lr) : lr_(lr) {}

void LARSOptions::validate() const {
  if (!(lr() >= 0 && std::isfinite(lr()))) throw std::out_of_range("LARS: lr must be a finite number >= 0, got " + num(lr()));
  if (!(momentum() >= 0 && momentum() < 1)) throw std::out_of_range("LARS: momentum must be in [0, 1), got " + num(momentum()));
  if (!(weight_decay() >= 0 && std::isfinite(weight_decay()))) {
    throw std::out_of_range("LARS: weight_decay must be a finite number >= 0, got " + num(weight_decay()));
  }
  if (!(eta() > 0 && std::isfinite(eta()))) throw std::out_of_range("LARS: eta (trust coefficient) must be a finite number > 0, got " + num(eta()));
}

void LARSOptions::serialize(torch::serialize::OutputArchive& archive) const {
  writeDouble(archive, "lr", lr());
  writeDouble(archive, "momentum", momentum());
  writeDouble(archive, "weight_decay", weight_decay());
  writeDouble(archive, "eta", eta());
  archive.write("adapt", c10::IValue(adapt()));
}

void LARSOptions::serialize(torch::serialize::InputArchive& archive) {
  readDouble(archive, "lr", lr_);
  readDouble(archive, "momentum", momentum_);
  readDouble(archive, "weight_decay", weight_decay_);
  readDouble(archive, "eta", eta_);
  c10::IValue iv;
  if (archive.try_read("adapt", iv)) adapt_ = iv.toBool();
}

void LARSParamState::serialize(torch::serialize::OutputArchive& archive) const {
  if (momentum_buffer().defined()) archive.write("momentum_buffer", c10::IValue(momentum_buffer()));
}

void LARSParamState::serialize(torch::serialize::InputArchive& archive) {
  c10::IValue iv;
  if (archive.try_read("momentum_buffer", iv)) momentum_buffer_ = iv.toTensor();
}

LARS::LARS(std::vector<torch::optim::OptimizerParamGroup> paramGroups, LARSOptions defaults)
    : torch::optim::Optimizer(std::move(paramGroups), std::make_unique<LARSOptions>(defaults)) {
  defaults.validate();
  for (const auto& g : param_groups_) static_cast<const LARSOptions&>(g.options()).validate();
}

LARS::LARS(std::vector<torch::Tensor> params, LARSOptions defaults)
    : LARS(std::vector<torch::optim::OptimizerParamGroup>{torch::optim::OptimizerParamGroup(std::move(params))},
           std::move(defaults)) {}

torch::Tensor LARS::step(LossClosure closure) {
  torch::NoGradGuard noGrad;
  torch::Tensor loss;
  if (closure) {
    at::AutoGradMode enableGrad(true);
    loss = closure();
  }
  for (auto& group : param_groups_) {
    const auto& o = static_cast<const LARSOptions&>(group.options());
    for (auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      torch::Tensor d = o.weight_decay() != 0 ? p.grad().add(p, o.weight_decay()) : p.grad().clone();
      if (o.adapt()) {
        // Trust ratio computed on the device, without a host sync.
        torch::Tensor pn = p.norm();
        torch::Tensor dn = d.norm();
        torch::Tensor q = torch::where(pn.gt(0).logical_and(dn.gt(0)), pn.mul(o.eta()).div(dn), torch::ones_like(pn));
        d.mul_(q);
      }
      if (o.momentum() != 0) {
        auto key = stateKey(state_, p);
        auto it = state_.find(key);
        if (it == state_.end()) {
          auto st = std::make_unique<LARSParamState>();
          st->momentum_buffer(d);  // μ·0 + d
          state_[key] = std::move(st);
          d = static_cast<LARSParamState&>(*state_[key]).momentum_buffer();
        } else {
          auto& buf = static_cast<LARSParamState&>(*it->second).momentum_buffer();
          buf.mul_(o.momentum()).add_(d);
          d = buf;
        }
      }
      p.add_(d, -o.lr());
    }
  }
  return loss;
}

torch::Tensor LARS::momentumBuffer(const torch::Tensor& param) const {
  auto it = state_.find(stateKey(state_, param));
  if (it == state_.end()) return torch::Tensor();
  return static_cast<const LARSParamState&>(*it->second).momentum_buffer();
}

void LARS::save(torch::serialize::OutputArchive& archive) const {
  torch::optim::serialize<LARSParamState, LARSOptions>(archive, *this);
}

void LARS::load(torch::serialize::InputArchive& archive) {
  torch::optim::serialize<LARSParamState, LARSOptions>(archive, *this);
}

}  // namespace mssl
