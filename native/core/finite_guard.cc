#include "core/finite_guard.h"

#include <torch/nn/module.h>

#include <cmath>
#include <sstream>
#include <vector>

namespace mssl {

namespace {

std::string describe(int64_t step, double lr, const std::string& what) {
  std::ostringstream os;
  os << "training diverged at step " << step << " (lr " << lr << "): " << what
     << "; no optimizer step was taken. Lower the learning rate (or add warmup) and resume from the last good checkpoint";
  return os.str();
}

// Index of the first tensor holding a NaN/Inf, or -1. Sums of |x| in double are finite iff every
// element is (an element of float32 range cannot overflow a double sum), so one sync decides.
int64_t firstNonFinite(const std::vector<at::Tensor>& ts) {
  if (ts.empty()) return -1;
  std::vector<at::Tensor> sums;
  sums.reserve(ts.size());
  for (const auto& t : ts) sums.push_back(t.detach().abs().sum(at::kDouble).reshape({1}));
  at::Tensor all = at::cat(sums);
  if (std::isfinite(all.sum().item<double>())) return -1;
  at::Tensor bad = all.isfinite().logical_not().nonzero();
  return bad.numel() > 0 ? bad[0][0].item<int64_t>() : -1;
}

}  // namespace

DivergedError::DivergedError(int64_t step, double lr, const std::string& what)
    : std::runtime_error(describe(step, lr, what)), step_(step), lr_(lr) {}

void checkFinite(int64_t step, double lr, const at::Tensor& loss, NamedModules modules) {
  at::NoGradGuard noGrad;
  const double l = loss.item<double>();
  if (!std::isfinite(l)) {
    std::ostringstream os;
    os << "the loss is not finite (" << l << ")";
    throw DivergedError(step, lr, os.str());
  }
  std::vector<at::Tensor> grads, values, bufs;
  std::vector<std::string> gradNames, valueNames, bufNames;
  for (const auto& [prefix, m] : modules) {
    if (!m) continue;
    for (const auto& item : m->named_parameters()) {
      const std::string name = std::string(prefix) + "." + item.key();
      values.push_back(item.value());
      valueNames.push_back(name);
      if (item.value().grad().defined()) {
        grads.push_back(item.value().grad());
        gradNames.push_back(name);
      }
    }
    for (const auto& item : m->named_buffers()) {
      if (!item.value().is_floating_point()) continue;
      bufs.push_back(item.value());
      bufNames.push_back(std::string(prefix) + "." + item.key());
    }
  }
  if (int64_t i = firstNonFinite(grads); i >= 0) throw DivergedError(step, lr, "the gradient of " + gradNames[i] + " is not finite");
  if (int64_t i = firstNonFinite(values); i >= 0) throw DivergedError(step, lr, "parameter " + valueNames[i] + " is not finite");
  if (int64_t i = firstNonFinite(bufs); i >= 0) throw DivergedError(step, lr, "buffer " + bufNames[i] + " (BatchNorm statistics) is not finite");
}

void checkFiniteOutputs(int64_t step, double lr, std::initializer_list<const at::Tensor*> outputs) {
  std::vector<at::Tensor> ts;
  for (const at::Tensor* t : outputs) {
    if (t && t->defined()) ts.push_back(*t);
  }
  checkFiniteOutputs(step, lr, ts);
}

void checkFiniteOutputs(int64_t step, double lr, const std::vector<at::Tensor>& outputs) {
  at::NoGradGuard noGrad;
  std::vector<at::Tensor> ts;
  for (const at::Tensor& t : outputs) {
    if (t.defined()) ts.push_back(t);
  }
  if (firstNonFinite(ts) >= 0) throw DivergedError(step, lr, "the network's output is not finite (its weights or BatchNorm statistics overflowed)");
}

}  // namespace mssl
