#include "core/collectives.h"

#include <stdexcept>

namespace mssl {

namespace {

struct GatherWithGradFn : public torch::autograd::Function<GatherWithGradFn> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& t, Collectives* c) {
    ctx->saved_data["rows"] = t.size(0);
    ctx->saved_data["collectives"] = reinterpret_cast<int64_t>(c);
    return c->allGather(t.contiguous());
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::variable_list grads) {
    auto* c = reinterpret_cast<Collectives*>(ctx->saved_data["collectives"].toInt());
    const int64_t rows = ctx->saved_data["rows"].toInt();
    std::vector<torch::Tensor> g{grads[0].contiguous().clone()};
    c->allReduceSum(g);
    return {g[0].narrow(0, c->rank() * rows, rows), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor gatherWithGrad(Collectives& c, const torch::Tensor& t) {
  if (c.worldSize() == 1) return t;
  return GatherWithGradFn::apply(t, &c);
}

torch::Tensor gatherNoGrad(Collectives& c, const torch::Tensor& t) {
  if (c.worldSize() == 1) return t;
  torch::NoGradGuard noGrad;
  return c.allGather(t.detach().contiguous());
}

void broadcastCoalesced(Collectives& c, const std::vector<torch::Tensor>& tensors, int root) {
  if (c.worldSize() == 1 || tensors.empty()) return;
  torch::NoGradGuard noGrad;
  // One flat buffer per dtype: a few large messages instead of one per tensor.
  std::vector<torch::ScalarType> dtypes;
  for (const auto& t : tensors) {
    if (std::find(dtypes.begin(), dtypes.end(), t.scalar_type()) == dtypes.end()) dtypes.push_back(t.scalar_type());
  }
  for (auto dtype : dtypes) {
    std::vector<torch::Tensor> group, flat;
    for (const auto& t : tensors) {
      if (t.scalar_type() != dtype) continue;
      group.push_back(t);
      flat.push_back(t.reshape({-1}));
    }
    std::vector<torch::Tensor> buf{torch::cat(flat)};
    c.broadcast(buf, root);
    int64_t off = 0;
    for (auto& t : group) {
      t.copy_(buf[0].narrow(0, off, t.numel()).view(t.sizes()));
      off += t.numel();
    }
  }
}

GradientBuckets::GradientBuckets(std::vector<torch::Tensor> params, int64_t bucketBytes)
    : params_(std::move(params)), bucketBytes_(bucketBytes) {
  if (bucketBytes_ < 1) throw std::out_of_range("distributed.bucketBytes must be >= 1, got " + std::to_string(bucketBytes_));
}

void GradientBuckets::allReduceMean(Collectives& c) {
  lastBytes_ = 0;
  if (c.worldSize() == 1) return;
  torch::NoGradGuard noGrad;
  const double inv = 1.0 / c.worldSize();
  std::vector<torch::Tensor> bucket;
  int64_t bytes = 0;
  auto flush = [&]() {
    if (bucket.empty()) return;
    std::vector<torch::Tensor> flat;
    for (const auto& g : bucket) flat.push_back(g.reshape({-1}));
    std::vector<torch::Tensor> buf{torch::cat(flat)};
    c.allReduceSum(buf);
    buf[0].mul_(inv);
    int64_t off = 0;
    for (auto& g : bucket) {
      g.copy_(buf[0].narrow(0, off, g.numel()).view(g.sizes()));
      off += g.numel();
    }
    lastBytes_ += bytes;
    bucket.clear();
    bytes = 0;
  };
  for (const auto& p : params_) {
    torch::Tensor g = p.grad();
    if (!g.defined()) continue;
    const int64_t b = g.numel() * static_cast<int64_t>(g.element_size());
    if (!bucket.empty() && (bucket.front().scalar_type() != g.scalar_type() || bytes + b > bucketBytes_)) flush();
    bucket.push_back(g);
    bytes += b;
  }
  flush();
}

}  // namespace mssl
