#include "core/ema.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <unordered_set>

namespace mssl {

#ifdef MSSL_WITH_CUDA
namespace detail {
// native/core/ema.cu: one grid-stride kernel over a pair of flat CUDA buffers.
void emaLerpCuda(const at::Tensor& online, const at::Tensor& ema, double weight);
}  // namespace detail
#endif

namespace {

std::string shapeString(at::IntArrayRef s) {
  std::ostringstream os;
  os << s;
  return os.str();
}

void checkTensorArg(const torch::Tensor& t, const char* what, size_t i) {
  if (!t.defined()) throw std::invalid_argument(std::string(what) + "[" + std::to_string(i) + "] is an undefined tensor");
  if (t.layout() != c10::kStrided) {
    throw std::invalid_argument(std::string(what) + "[" + std::to_string(i) + "] must be a dense (strided) tensor");
  }
  if (!at::isFloatingType(t.scalar_type())) {
    throw std::invalid_argument(std::string(what) + "[" + std::to_string(i) +
                                "] must be floating point (float16, bfloat16, float32 or float64), got " +
                                c10::toString(t.scalar_type()));
  }
}

void checkMomentum(double m) {
  if (!(m >= 0.0 && m <= 1.0)) {
    throw std::out_of_range("ema update: m (momentum) must be in [0, 1], got " + std::to_string(m));
  }
}

void checkPairs(const std::vector<torch::Tensor>& online, const std::vector<torch::Tensor>& ema) {
  if (online.size() != ema.size()) {
    throw std::invalid_argument("ema: online and ema must hold the same number of tensors, got " +
                                std::to_string(online.size()) + " and " + std::to_string(ema.size()));
  }
  std::unordered_set<const void*> onlineImpls;
  for (size_t i = 0; i < online.size(); ++i) {
    checkTensorArg(online[i], "online", i);
    checkTensorArg(ema[i], "ema", i);
    if (online[i].sizes() != ema[i].sizes()) {
      throw std::invalid_argument("ema: online[" + std::to_string(i) + "] has shape " + shapeString(online[i].sizes()) +
                                  " but ema[" + std::to_string(i) + "] has shape " + shapeString(ema[i].sizes()));
    }
    onlineImpls.insert(online[i].unsafeGetTensorImpl());
  }
  for (size_t i = 0; i < ema.size(); ++i) {
    if (onlineImpls.count(ema[i].unsafeGetTensorImpl())) {
      throw std::invalid_argument("ema: ema[" + std::to_string(i) + "] is also an online tensor; the EMA needs its own copy");
    }
  }
}

// CPU single pass over flat buffers. Plain loops over restrict pointers: GCC/Clang vectorise the
// same-dtype case; the fp16/bf16 case converts per element (still one pass, memory-bound).
template <typename O, typename E>
void lerpChunk(const O* __restrict__ o, E* __restrict__ e, int64_t n, E w) {
  for (int64_t i = 0; i < n; ++i) {
    E x = e[i];
    e[i] = x + w * (static_cast<E>(o[i]) - x);
  }
}

// Runs fn(begin, end) over [0, n) in chunks of `chunk` elements that the threads of one parallel
// region take from a shared counter. at::parallel_for alone splits the range statically, one
// piece per thread: on a shared machine a thread that is descheduled holds up the whole update by
// its whole half; here the threads that run take over its remaining chunks.
template <typename F>
void parallelChunks(int64_t n, int64_t chunk, const F& fn) {
  const int64_t numChunks = (n + chunk - 1) / chunk;
  const int64_t threads = std::min<int64_t>(at::get_num_threads(), numChunks);
  if (threads <= 1 || at::in_parallel_region()) {
    fn(0, n);
    return;
  }
  std::atomic<int64_t> next{0};
  at::parallel_for(0, threads, 1, [&](int64_t, int64_t) {
    for (int64_t c = next.fetch_add(1, std::memory_order_relaxed); c < numChunks; c = next.fetch_add(1, std::memory_order_relaxed)) {
      const int64_t b = c * chunk;
      fn(b, std::min(n, b + chunk));
    }
  });
}

// The fp32/fp32 case (every fp32 model) compiled for AVX-512, AVX2 and the baseline, picked at load
// time (GCC ifunc): the addon is built for generic x86-64 (SSE2), and the wider loads/stores let
// two cores reach the bandwidth ATen's own runtime-dispatched kernels reach.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
void lerpChunkFloat(const float* __restrict__ o, float* __restrict__ e, int64_t n, float w) {
  for (int64_t i = 0; i < n; ++i) {
    float x = e[i];
    e[i] = x + w * (o[i] - x);
  }
}

template <typename E>
void emaLerpCpuTyped(const at::Tensor& online, const at::Tensor& ema, double weight) {
  E* e = ema.data_ptr<E>();
  const int64_t n = ema.numel();
  const E w = static_cast<E>(weight);
  // One chunk ≈ 256 KiB of EMA data: big enough to amortise the scheduling, small enough to balance.
  switch (online.scalar_type()) {
    case at::kFloat: {
      const float* o = online.data_ptr<float>();
      parallelChunks(n, 65536, [&](int64_t b, int64_t end) {
        if constexpr (std::is_same_v<E, float>) {
          lerpChunkFloat(o + b, e + b, end - b, w);
        } else {
          lerpChunk(o + b, e + b, end - b, w);
        }
      });
      break;
    }
    case at::kDouble: {
      const double* o = online.data_ptr<double>();
      parallelChunks(n, 65536, [&](int64_t b, int64_t end) { lerpChunk(o + b, e + b, end - b, w); });
      break;
    }
    case at::kHalf: {
      const at::Half* o = online.data_ptr<at::Half>();
      parallelChunks(n, 65536, [&](int64_t b, int64_t end) { lerpChunk(o + b, e + b, end - b, w); });
      break;
    }
    case at::kBFloat16: {
      const at::BFloat16* o = online.data_ptr<at::BFloat16>();
      parallelChunks(n, 65536, [&](int64_t b, int64_t end) { lerpChunk(o + b, e + b, end - b, w); });
      break;
    }
    default:
      throw std::invalid_argument(std::string("ema: unsupported online dtype ") + c10::toString(online.scalar_type()));
  }
}

}  // namespace

c10::ScalarType emaDtypeFor(c10::ScalarType online) { return online == at::kDouble ? at::kDouble : at::kFloat; }

void emaLerpFlat(const torch::Tensor& online, const torch::Tensor& ema, double weight) {
  if (online.numel() != ema.numel() || online.device() != ema.device()) {
    throw std::invalid_argument("emaLerpFlat: online and ema buffers must have the same numel and device");
  }
  if (!online.is_contiguous() || !ema.is_contiguous()) throw std::invalid_argument("emaLerpFlat: buffers must be contiguous");
  if (ema.scalar_type() != at::kFloat && ema.scalar_type() != at::kDouble) {
    throw std::invalid_argument("emaLerpFlat: ema buffer must be float32 or float64");
  }
  if (ema.numel() == 0) return;
  if (ema.device().is_cpu()) {
    if (ema.scalar_type() == at::kFloat) {
      emaLerpCpuTyped<float>(online, ema, weight);
    } else {
      emaLerpCpuTyped<double>(online, ema, weight);
    }
    return;
  }
#ifdef MSSL_WITH_CUDA
  if (ema.device().is_cuda()) {
    detail::emaLerpCuda(online, ema, weight);
    return;
  }
#endif
  // Any other backend: same arithmetic through ATen (one temporary per call).
  ema.add_(online.to(ema.scalar_type()) - ema, weight);
}

// ---------------------------------------------------------------------------------------------
// FlatParams

FlatParams::FlatParams(std::vector<torch::Tensor> params) : params_(std::move(params)) {
  std::unordered_set<const void*> seen;
  for (size_t i = 0; i < params_.size(); ++i) {
    checkTensorArg(params_[i], "params", i);
    if (!seen.insert(params_[i].unsafeGetTensorImpl()).second) {
      throw std::invalid_argument("FlatParams: params[" + std::to_string(i) + "] appears twice");
    }
  }
  std::vector<size_t> groupOf;
  std::vector<Key> keys;
  groupByDeviceAndDtype(groupOf, keys);
  build(groupOf, keys);
}

FlatParams::FlatParams(std::vector<torch::Tensor> params, const FlatParams& like)
    : params_(std::move(params)), mirror_(true) {
  if (params_.size() != like.params_.size()) {
    throw std::invalid_argument("FlatParams: mirror needs as many tensors as its layout, got " +
                                std::to_string(params_.size()) + " and " + std::to_string(like.params_.size()));
  }
  std::unordered_set<const void*> seen;
  for (size_t i = 0; i < params_.size(); ++i) {
    checkTensorArg(params_[i], "params", i);
    if (params_[i].sizes() != like.params_[i].sizes()) {
      throw std::invalid_argument("FlatParams: params[" + std::to_string(i) + "] has shape " +
                                  shapeString(params_[i].sizes()) + " but its layout tensor has shape " +
                                  shapeString(like.params_[i].sizes()));
    }
    if (!seen.insert(params_[i].unsafeGetTensorImpl()).second) {
      throw std::invalid_argument("FlatParams: params[" + std::to_string(i) + "] appears twice");
    }
  }
  std::vector<Key> keys;
  for (const auto& k : like.keys_) keys.push_back({k.device, emaDtypeFor(k.dtype)});
  build(like.groupOf_, keys);
}

void FlatParams::groupByDeviceAndDtype(std::vector<size_t>& groupOf, std::vector<Key>& keys) const {
  groupOf.assign(params_.size(), 0);
  keys.clear();
  for (size_t i = 0; i < params_.size(); ++i) {
    const auto& p = params_[i];
    size_t g = 0;
    while (g < keys.size() && !(keys[g].device == p.device() && keys[g].dtype == p.scalar_type())) ++g;
    if (g == keys.size()) keys.push_back({p.device(), p.scalar_type()});
    groupOf[i] = g;
  }
}

void FlatParams::build(const std::vector<size_t>& groupOf, const std::vector<Key>& keys) {
  torch::NoGradGuard noGrad;
  std::vector<int64_t> groupNumel(keys.size(), 0);
  std::vector<int64_t> offset(params_.size(), 0);
  for (size_t i = 0; i < params_.size(); ++i) {
    offset[i] = groupNumel[groupOf[i]];
    groupNumel[groupOf[i]] += params_[i].numel();
  }
  std::vector<torch::Tensor> buffers;
  buffers.reserve(keys.size());
  for (size_t g = 0; g < keys.size(); ++g) {
    buffers.push_back(at::empty({groupNumel[g]}, at::TensorOptions().device(keys[g].device).dtype(keys[g].dtype)));
  }
  // Copy every value first, then re-point: a tensor that is its own source stays readable.
  std::vector<torch::Tensor> views(params_.size());
  for (size_t i = 0; i < params_.size(); ++i) {
    const auto& p = params_[i];
    views[i] = buffers[groupOf[i]].narrow(0, offset[i], p.numel()).view(p.sizes());
    views[i].copy_(p);
  }
  for (size_t i = 0; i < params_.size(); ++i) params_[i].set_data(views[i]);
  groupOf_ = groupOf;
  offset_ = std::move(offset);
  buffers_ = std::move(buffers);
  keys_ = keys;
}

bool FlatParams::isFlat() const {
  for (size_t i = 0; i < params_.size(); ++i) {
    const auto& p = params_[i];
    const auto& buf = buffers_[groupOf_[i]];
    if (p.scalar_type() != buf.scalar_type() || p.device() != buf.device()) return false;
    if (p.numel() == 0) continue;  // an empty tensor holds no data to alias
    if (!p.is_contiguous()) return false;
    if (!p.storage().is_alias_of(buf.storage())) return false;
    if (p.storage_offset() != buf.storage_offset() + offset_[i]) return false;
    if (offset_[i] + p.numel() > buf.numel()) return false;
  }
  return true;
}

void FlatParams::rebind() {
  if (isFlat()) return;
  if (mirror_) {
    std::vector<size_t> groupOf = groupOf_;
    std::vector<Key> keys = keys_;
    build(groupOf, keys);
  } else {
    std::vector<size_t> groupOf;
    std::vector<Key> keys;
    groupByDeviceAndDtype(groupOf, keys);
    build(groupOf, keys);
  }
}

const torch::Tensor& FlatParams::group(size_t i) const {
  if (i >= buffers_.size()) {
    throw std::out_of_range("FlatParams::group: i must be in [0, " + std::to_string(buffers_.size()) + "), got " +
                            std::to_string(i));
  }
  return buffers_[i];
}

int64_t FlatParams::numel() const {
  int64_t n = 0;
  for (const auto& b : buffers_) n += b.numel();
  return n;
}

bool FlatParams::sameLayoutAs(const FlatParams& other) const {
  if (params_.size() != other.params_.size() || buffers_.size() != other.buffers_.size()) return false;
  for (size_t g = 0; g < buffers_.size(); ++g) {
    if (buffers_[g].numel() != other.buffers_[g].numel() || buffers_[g].device() != other.buffers_[g].device()) return false;
  }
  return groupOf_ == other.groupOf_ && offset_ == other.offset_;
}

// ---------------------------------------------------------------------------------------------
// FusedEma

static const std::vector<torch::Tensor>& validatedOnline(const std::vector<torch::Tensor>& online,
                                                          const std::vector<torch::Tensor>& ema) {
  checkPairs(online, ema);
  return online;
}

FusedEma::FusedEma(std::vector<torch::Tensor> online, std::vector<torch::Tensor> ema)
    : online_(validatedOnline(online, ema)), ema_(std::move(ema), online_) {}

bool FusedEma::isFlat() const {
  if (!online_.isFlat() || !ema_.isFlat() || !online_.sameLayoutAs(ema_)) return false;
  for (size_t g = 0; g < online_.numGroups(); ++g) {
    if (ema_.group(g).scalar_type() != emaDtypeFor(online_.group(g).scalar_type())) return false;
  }
  return true;
}

void FusedEma::rebind() {
  if (isFlat()) return;
  online_.rebind();
  ema_.rebind();
  bool dtypesMatch = true;
  for (size_t g = 0; g < online_.numGroups() && g < ema_.numGroups(); ++g) {
    if (ema_.group(g).scalar_type() != emaDtypeFor(online_.group(g).scalar_type())) dtypesMatch = false;
  }
  if (!online_.sameLayoutAs(ema_) || !dtypesMatch) {
    // The online layout changed (a dtype/device move regrouped it): lay the EMA out again,
    // carrying its current values over.
    ema_ = FlatParams(ema_.tensors(), online_);
  }
}

void FusedEma::update(double m) {
  checkMomentum(m);
  rebind();
  torch::NoGradGuard noGrad;
  const double w = 1.0 - m;
  for (size_t g = 0; g < online_.numGroups(); ++g) emaLerpFlat(online_.group(g), ema_.group(g), w);
}

void FusedEma::copyOnlineToEma() {
  rebind();
  torch::NoGradGuard noGrad;
  for (size_t g = 0; g < online_.numGroups(); ++g) ema_.group(g).copy_(online_.group(g));
}

void emaUpdateReference(const std::vector<torch::Tensor>& online, const std::vector<torch::Tensor>& ema, double m) {
  checkMomentum(m);
  checkPairs(online, ema);
  torch::NoGradGuard noGrad;
  for (size_t i = 0; i < online.size(); ++i) ema[i].mul_(m).add_(online[i], 1.0 - m);
}

}  // namespace mssl
