#include "core/ema.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/torch.h>

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#endif

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

// CPU single pass over flat buffers, scheduled and vectorised the way ATen's own `a.add_(b)`
// runs (docs/bench/ema-kernel.md has the measurements behind each choice):
// - at::parallel_for over [0, n) with ATen's grain (32768): one contiguous range per thread, the
//   static split TensorIterator uses. A shared chunk counter (tried before) interleaved the
//   threads' ranges and cost 5-10 % here.
// - Explicit AVX2+FMA / AVX-512 intrinsics picked at load time, each loading o and e once per
//   element and keeping several vectors in flight. GCC's auto-vectorised target_clones loop
//   loaded e twice per vector (vsubps and vaddps both read memory), one vector per iteration —
//   more load-port traffic for the same bytes, which shows on cores that saturate the load ports
//   before DRAM (the AVX2 EPYC at 60 % of ATen).
// - Plain unaligned loads/stores (FlatParams buffers are 64-byte aligned, so they never split),
//   no non-temporal stores: the line being written was just read, and streaming stores were
//   20 % slower in the same measurement.
constexpr int64_t kGrain = 32768;  // at::internal::GRAIN_SIZE

template <typename O, typename E>
void lerpChunk(const O* __restrict__ o, E* __restrict__ e, int64_t n, E w) {
  for (int64_t i = 0; i < n; ++i) {
    E x = e[i];
    e[i] = x + w * (static_cast<E>(o[i]) - x);
  }
}

#if defined(__GNUC__) && defined(__x86_64__)
#define MSSL_EMA_X86 1
__attribute__((target("avx2,fma"))) void lerpFloatAvx2(const float* __restrict__ o, float* __restrict__ e, int64_t n, float w) {
  const __m256 vw = _mm256_set1_ps(w);
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256 e0 = _mm256_loadu_ps(e + i), e1 = _mm256_loadu_ps(e + i + 8);
    const __m256 e2 = _mm256_loadu_ps(e + i + 16), e3 = _mm256_loadu_ps(e + i + 24);
    const __m256 o0 = _mm256_loadu_ps(o + i), o1 = _mm256_loadu_ps(o + i + 8);
    const __m256 o2 = _mm256_loadu_ps(o + i + 16), o3 = _mm256_loadu_ps(o + i + 24);
    _mm256_storeu_ps(e + i, _mm256_fmadd_ps(vw, _mm256_sub_ps(o0, e0), e0));
    _mm256_storeu_ps(e + i + 8, _mm256_fmadd_ps(vw, _mm256_sub_ps(o1, e1), e1));
    _mm256_storeu_ps(e + i + 16, _mm256_fmadd_ps(vw, _mm256_sub_ps(o2, e2), e2));
    _mm256_storeu_ps(e + i + 24, _mm256_fmadd_ps(vw, _mm256_sub_ps(o3, e3), e3));
  }
  lerpChunk(o + i, e + i, n - i, w);
}

__attribute__((target("avx512f"))) void lerpFloatAvx512(const float* __restrict__ o, float* __restrict__ e, int64_t n, float w) {
  const __m512 vw = _mm512_set1_ps(w);
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m512 e0 = _mm512_loadu_ps(e + i), e1 = _mm512_loadu_ps(e + i + 16);
    const __m512 o0 = _mm512_loadu_ps(o + i), o1 = _mm512_loadu_ps(o + i + 16);
    _mm512_storeu_ps(e + i, _mm512_fmadd_ps(vw, _mm512_sub_ps(o0, e0), e0));
    _mm512_storeu_ps(e + i + 16, _mm512_fmadd_ps(vw, _mm512_sub_ps(o1, e1), e1));
  }
  lerpChunk(o + i, e + i, n - i, w);
}
#endif

void lerpFloatBaseline(const float* __restrict__ o, float* __restrict__ e, int64_t n, float w) { lerpChunk(o, e, n, w); }

using FloatKernel = void (*)(const float*, float*, int64_t, float);

struct KernelChoice {
  FloatKernel fn;
  const char* name;
};

bool cpuHas(const std::string& isa) {
#ifdef MSSL_EMA_X86
  if (isa == "avx512") return __builtin_cpu_supports("avx512f");
  if (isa == "avx2") return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
  return isa == "baseline";
}

KernelChoice kernelFor(const std::string& isa) {
#ifdef MSSL_EMA_X86
  if (isa == "avx512") return {lerpFloatAvx512, "avx512"};
  if (isa == "avx2") return {lerpFloatAvx2, "avx2"};
#endif
  return {lerpFloatBaseline, "baseline"};
}

// AVX2 first: on the AVX-512 EPYC (Zen 4, which splits 512-bit ops into two 256-bit halves) the
// AVX2 kernel moved 5-10 % more bytes per second than the AVX-512 one, quiet and loaded
// (docs/bench/ema-kernel.md); AVX-512 stays available to force and to measure.
KernelChoice bestKernel() {
  for (const char* isa : {"avx2", "avx512"}) {
    if (cpuHas(isa)) return kernelFor(isa);
  }
  return kernelFor("baseline");
}

std::atomic<KernelChoice*>& currentKernel() {
  static KernelChoice best = bestKernel();
  static std::atomic<KernelChoice*> current{&best};
  return current;
}

template <typename F>
void parallelRange(int64_t n, const F& fn) {
  at::parallel_for(0, n, kGrain, [&](int64_t b, int64_t end) { fn(b, end); });
}

template <typename E>
void emaLerpCpuTyped(const at::Tensor& online, const at::Tensor& ema, double weight) {
  E* e = ema.data_ptr<E>();
  const int64_t n = ema.numel();
  const E w = static_cast<E>(weight);
  switch (online.scalar_type()) {
    case at::kFloat: {
      const float* o = online.data_ptr<float>();
      if constexpr (std::is_same_v<E, float>) {
        const FloatKernel k = currentKernel().load()->fn;
        parallelRange(n, [&](int64_t b, int64_t end) { k(o + b, e + b, end - b, w); });
      } else {
        parallelRange(n, [&](int64_t b, int64_t end) { lerpChunk(o + b, e + b, end - b, w); });
      }
      break;
    }
    case at::kDouble: {
      const double* o = online.data_ptr<double>();
      parallelRange(n, [&](int64_t b, int64_t end) { lerpChunk(o + b, e + b, end - b, w); });
      break;
    }
    case at::kHalf: {
      const at::Half* o = online.data_ptr<at::Half>();
      parallelRange(n, [&](int64_t b, int64_t end) { lerpChunk(o + b, e + b, end - b, w); });
      break;
    }
    case at::kBFloat16: {
      const at::BFloat16* o = online.data_ptr<at::BFloat16>();
      parallelRange(n, [&](int64_t b, int64_t end) { lerpChunk(o + b, e + b, end - b, w); });
      break;
    }
    default:
      throw std::invalid_argument(std::string("ema: unsupported online dtype ") + c10::toString(online.scalar_type()));
  }
}

}  // namespace

const char* emaKernelIsa() { return currentKernel().load()->name; }

void setEmaKernelIsa(const std::string& isa) {
  // One static choice per ISA, so the pointer handed to running updates stays valid.
  static KernelChoice choices[] = {kernelFor("avx512"), kernelFor("avx2"), kernelFor("baseline")};
  if (isa == "auto") {
    static KernelChoice best = bestKernel();
    currentKernel().store(&best);
    return;
  }
  if (isa != "avx512" && isa != "avx2" && isa != "baseline") {
    throw std::invalid_argument("setEmaKernelIsa: isa must be auto, avx512, avx2 or baseline, got '" + isa + "'");
  }
  if (!cpuHas(isa)) throw std::invalid_argument("setEmaKernelIsa: this CPU does not support " + isa);
  for (auto& c : choices) {
    if (isa == c.name) currentKernel().store(&c);
  }
}

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

namespace {
// The strides a tensor keeps inside its flat buffer: its own when they are dense and
// non-overlapping (row-major, or the channels-last strides of a channels-last model's conv
// weights, so its convolutions keep their format), row-major otherwise. Either way the tensor
// covers exactly numel() buffer elements.
std::vector<int64_t> layoutStrides(const torch::Tensor& p) {
  if (p.is_non_overlapping_and_dense()) return p.strides().vec();
  const auto sz = p.sizes();
  std::vector<int64_t> st(sz.size(), 1);
  for (int64_t d = static_cast<int64_t>(sz.size()) - 2; d >= 0; --d) st[d] = st[d + 1] * sz[d + 1];
  return st;
}
}  // namespace

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
  build(groupOf, keys, currentStrides());
}

std::vector<std::vector<int64_t>> FlatParams::currentStrides() const {
  std::vector<std::vector<int64_t>> out;
  out.reserve(params_.size());
  for (const auto& p : params_) out.push_back(layoutStrides(p));
  return out;
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
  // The online strides too: the elementwise update pairs buffer element k of both sides, which is
  // the same parameter entry only when both sides lay their tensors out alike.
  build(like.groupOf_, keys, like.strides_);
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

void FlatParams::build(const std::vector<size_t>& groupOf, const std::vector<Key>& keys,
                       const std::vector<std::vector<int64_t>>& strides) {
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
    views[i] = buffers[groupOf[i]].narrow(0, offset[i], p.numel()).as_strided(p.sizes(), strides[i]);
    views[i].copy_(p);
  }
  for (size_t i = 0; i < params_.size(); ++i) params_[i].set_data(views[i]);
  groupOf_ = groupOf;
  strides_ = strides;
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
    if (p.strides() != c10::IntArrayRef(strides_[i])) return false;
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
    std::vector<std::vector<int64_t>> strides = strides_;
    build(groupOf, keys, strides);
  } else {
    std::vector<size_t> groupOf;
    std::vector<Key> keys;
    groupByDeviceAndDtype(groupOf, keys);
    build(groupOf, keys, currentStrides());
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
  return groupOf_ == other.groupOf_ && offset_ == other.offset_ && strides_ == other.strides_;
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
