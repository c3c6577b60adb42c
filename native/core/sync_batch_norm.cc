#include "core/sync_batch_norm.h"

#include <stdexcept>
#include <vector>

namespace mssl {

namespace {

thread_local Collectives* tlsSync = nullptr;

// Every dim but the channel dim (1).
std::vector<int64_t> reduceDims(const torch::Tensor& x) {
  std::vector<int64_t> d{0};
  for (int64_t i = 2; i < x.dim(); ++i) d.push_back(i);
  return d;
}

// [1, C, 1, ...]: a per-channel vector broadcast over x.
std::vector<int64_t> channelShape(const torch::Tensor& x) {
  std::vector<int64_t> s(static_cast<size_t>(x.dim()), 1);
  s[1] = x.size(1);
  return s;
}

// Normalisation with given global statistics; the backward reduces Σ dy and Σ dy·x̂ across ranks
// (the gradient through the mean and variance, which depend on every rank's inputs).
struct SyncBatchNormFn : public torch::autograd::Function<SyncBatchNormFn> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& weight,
                               const torch::Tensor& bias, const torch::Tensor& mean, const torch::Tensor& invstd, double count,
                               Collectives* c) {
    ctx->saved_data["count"] = count;
    ctx->saved_data["collectives"] = reinterpret_cast<int64_t>(c);
    ctx->save_for_backward({x, weight, mean, invstd});
    const auto shape = channelShape(x);
    torch::Tensor xhat = (x - mean.view(shape)) * invstd.view(shape);
    if (!weight.defined()) return xhat;
    return xhat * weight.view(shape) + bias.view(shape);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const torch::Tensor &x = saved[0], &weight = saved[1], &mean = saved[2], &invstd = saved[3];
    const double count = ctx->saved_data["count"].toDouble();
    auto* c = reinterpret_cast<Collectives*>(ctx->saved_data["collectives"].toInt());
    const torch::Tensor& dy = grads[0];
    const auto shape = channelShape(x);
    const auto dims = reduceDims(x);
    torch::Tensor xhat = (x - mean.view(shape)) * invstd.view(shape);
    torch::Tensor sumDy = dy.sum(dims);
    torch::Tensor sumDyXhat = (dy * xhat).sum(dims);
    // The affine gradients are this rank's share; the gradient all-reduce after backward sums them.
    torch::Tensor dWeight = weight.defined() ? sumDyXhat.clone() : torch::Tensor();
    torch::Tensor dBias = weight.defined() ? sumDy.clone() : torch::Tensor();
    const int64_t C = x.size(1);
    std::vector<torch::Tensor> buf{torch::cat({sumDy, sumDyXhat}).contiguous()};
    c->allReduceSum(buf);
    torch::Tensor gSumDy = buf[0].narrow(0, 0, C), gSumDyXhat = buf[0].narrow(0, C, C);
    torch::Tensor scale = weight.defined() ? weight * invstd : invstd;
    torch::Tensor dx = scale.view(shape) * (dy - (gSumDy / count).view(shape) - xhat * (gSumDyXhat / count).view(shape));
    return {dx, dWeight, dBias, torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

template <class BN>
torch::Tensor dispatch(BN& bn, const torch::Tensor& x) {
  if (tlsSync == nullptr || tlsSync->worldSize() == 1 || !bn->is_training()) return bn->forward(x);
  const auto& o = bn->options;
  const bool track = o.track_running_stats();
  return syncBatchNorm(*tlsSync, x, bn->weight, bn->bias, track ? bn->running_mean : torch::Tensor(), track ? bn->running_var : torch::Tensor(),
                       track ? bn->num_batches_tracked : torch::Tensor(), o.momentum(), o.eps());
}

}  // namespace

SyncBatchNormScope::SyncBatchNormScope(Collectives* c) : previous_(tlsSync) { tlsSync = c; }
SyncBatchNormScope::~SyncBatchNormScope() { tlsSync = previous_; }

torch::Tensor batchNorm(torch::nn::BatchNorm2d& bn, const torch::Tensor& x) { return dispatch(bn, x); }
torch::Tensor batchNorm(torch::nn::BatchNorm1d& bn, const torch::Tensor& x) { return dispatch(bn, x); }

torch::Tensor syncBatchNorm(Collectives& c, const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                            torch::Tensor runningMean, torch::Tensor runningVar, torch::Tensor numBatchesTracked,
                            c10::optional<double> momentum, double eps) {
  if (x.dim() < 2) throw std::invalid_argument("syncBatchNorm: expected an input [N, C, ...], got " + std::to_string(x.dim()) + " dims");
  const int64_t C = x.size(1);
  torch::Tensor mean, var;
  double count = 0;
  {
    torch::NoGradGuard noGrad;
    // Sums in float64: E[x²] − E[x]² over the global batch without float32 cancellation.
    torch::Tensor xd = x.detach().to(torch::kDouble);
    const auto dims = reduceDims(x);
    std::vector<torch::Tensor> buf{torch::cat({xd.sum(dims), (xd * xd).sum(dims),
                                               torch::full({1}, static_cast<double>(x.numel() / std::max<int64_t>(C, 1)), xd.options())})};
    c.allReduceSum(buf);
    count = buf[0][2 * C].item<double>();
    if (count < 2) throw std::invalid_argument("syncBatchNorm: needs more than 1 value per channel over all ranks");
    mean = buf[0].narrow(0, 0, C) / count;
    var = (buf[0].narrow(0, C, C) / count - mean * mean).clamp_min(0);
    if (runningMean.defined() && runningVar.defined()) {
      double factor = momentum.value_or(0.0);
      if (numBatchesTracked.defined()) {
        numBatchesTracked.add_(1);
        if (!momentum.has_value()) factor = 1.0 / numBatchesTracked.item<double>();
      }
      runningMean.mul_(1 - factor).add_(mean.to(runningMean.scalar_type()), factor);
      runningVar.mul_(1 - factor).add_((var * (count / (count - 1))).to(runningVar.scalar_type()), factor);
    }
  }
  torch::Tensor invstd = (var + eps).rsqrt().to(x.scalar_type());
  return SyncBatchNormFn::apply(x, weight, bias, mean.to(x.scalar_type()), invstd, count, &c);
}

}  // namespace mssl
