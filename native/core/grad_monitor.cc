#include "core/grad_monitor.h"

#include <cmath>

namespace mssl {

void GradMonitor::attach(ViewForward& view) {
  for (int b = 0; b < kNumParts; ++b) {
    torch::Tensor& h = view.partOut[b];
    if (!h.defined() || !h.requires_grad()) continue;
    h.register_hook([this, b](const torch::Tensor& g) {
      // Accumulate on the device; one host sync per step in takeRms().
      torch::Tensor s = g.detach().to(torch::kFloat).pow(2).sum();
      sumsq_[b] = sumsq_[b].defined() ? sumsq_[b] + s : s;
      numel_[b] += g.numel();
    });
  }
}

PartStats GradMonitor::takeRms() {
  PartStats out;
  out.fill(std::numeric_limits<double>::quiet_NaN());
  std::vector<torch::Tensor> present;
  std::vector<int> which;
  for (int b = 0; b < kNumParts; ++b) {
    if (sumsq_[b].defined() && numel_[b] > 0) {
      present.push_back(sumsq_[b].reshape({1}));
      which.push_back(b);
    }
  }
  if (!present.empty()) {
    torch::Tensor all = torch::cat(present).to(torch::kCPU, torch::kDouble);
    auto acc = all.accessor<double, 1>();
    for (size_t i = 0; i < which.size(); ++i) out[which[i]] = std::sqrt(acc[i] / static_cast<double>(numel_[which[i]]));
  }
  sumsq_ = {};
  numel_.fill(0);
  return out;
}

PartStats GradMonitor::probeCosine(const std::array<torch::Tensor, kNumParts>& grads) {
  PartStats out;
  out.fill(std::numeric_limits<double>::quiet_NaN());
  for (int b = 0; b < kNumParts; ++b) {
    if (!grads[b].defined()) continue;
    torch::Tensor g = grads[b].detach().reshape({-1}).to(torch::kDouble);
    if (previous_[b].defined() && previous_[b].numel() == g.numel()) {
      double denom = (g.norm() * previous_[b].norm()).item<double>();
      out[b] = denom > 0 ? g.dot(previous_[b]).item<double>() / denom : std::numeric_limits<double>::quiet_NaN();
    }
    previous_[b] = g;
  }
  return out;
}

}  // namespace mssl
