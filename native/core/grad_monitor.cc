#include "core/grad_monitor.h"

#include <cmath>
#include <stdexcept>

namespace mssl {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Cosine of g with *previous (NaN without one, or for a zero gradient); *previous becomes g.
double cosineWithPrevious(const torch::Tensor& grad, torch::Tensor* previous) {
  torch::Tensor g = grad.detach().reshape({-1}).to(torch::kDouble);
  double out = kNaN;
  if (previous->defined() && previous->numel() == g.numel()) {
    double denom = (g.norm() * previous->norm()).item<double>();
    if (denom > 0) out = g.dot(*previous).item<double>() / denom;
  }
  *previous = g;
  return out;
}

}  // namespace

void GradMonitor::setBlocks(std::vector<int> blockPart) {
  blockPart_ = std::move(blockPart);
  lastBlock_.fill(-1);
  for (int k = 0; k < numBlocks(); ++k) lastBlock_[blockPart_[k]] = k;
  sumsq_.assign(blockPart_.size(), torch::Tensor());
  numel_.assign(blockPart_.size(), 0);
  resetProbe();
}

void GradMonitor::attach(ViewForward& view) {
  if (static_cast<int>(view.blockOut.size()) != numBlocks()) {
    throw std::logic_error("GradMonitor::attach: the view has " + std::to_string(view.blockOut.size()) + " block outputs, expected " +
                           std::to_string(numBlocks()) + " (forwardOnline(x, true))");
  }
  for (int k = 0; k < numBlocks(); ++k) {
    torch::Tensor& h = view.blockOut[k];
    if (!h.defined() || !h.requires_grad()) continue;
    h.register_hook([this, k](const torch::Tensor& g) {
      // Accumulate on the device; one host sync per step in takeRms().
      torch::Tensor s = g.detach().to(torch::kFloat).pow(2).sum();
      sumsq_[k] = sumsq_[k].defined() ? sumsq_[k] + s : s;
      numel_[k] += g.numel();
    });
  }
}

PartStats GradMonitor::takeRms(BlockGradStats* blocks) {
  PartStats out;
  out.fill(kNaN);
  std::vector<double> sumsq(numBlocks(), kNaN);
  std::vector<torch::Tensor> present;
  std::vector<int> which;
  for (int k = 0; k < numBlocks(); ++k) {
    if (sumsq_[k].defined() && numel_[k] > 0) {
      present.push_back(sumsq_[k].reshape({1}));
      which.push_back(k);
    }
  }
  if (!present.empty()) {
    torch::Tensor all = torch::cat(present).to(torch::kCPU, torch::kDouble);
    auto acc = all.accessor<double, 1>();
    for (size_t i = 0; i < which.size(); ++i) sumsq[which[i]] = acc[i];
  }
  for (int b = 0; b < kNumParts; ++b) {
    const int k = lastBlock_[b];
    if (k >= 0 && numel_[k] > 0) out[b] = std::sqrt(sumsq[k] / static_cast<double>(numel_[k]));
  }
  if (blocks) {
    blocks->sumsq = sumsq;
    blocks->numel = numel_;
  }
  sumsq_.assign(blockPart_.size(), torch::Tensor());
  numel_.assign(blockPart_.size(), 0);
  return out;
}

PartStats GradMonitor::probeCosine(const std::array<torch::Tensor, kNumParts>& grads) {
  PartStats out;
  out.fill(kNaN);
  for (int b = 0; b < kNumParts; ++b) {
    if (grads[b].defined()) out[b] = cosineWithPrevious(grads[b], &previous_[b]);
  }
  return out;
}

std::vector<double> GradMonitor::probeBlockCosine(const std::vector<torch::Tensor>& grads) {
  std::vector<double> out(grads.size(), kNaN);
  previousBlocks_.resize(grads.size());
  for (size_t k = 0; k < grads.size(); ++k) {
    if (grads[k].defined()) out[k] = cosineWithPrevious(grads[k], &previousBlocks_[k]);
  }
  return out;
}

}  // namespace mssl
