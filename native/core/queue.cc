#include "core/queue.h"

#include <sstream>
#include <stdexcept>

#include "core/ntxent.h"

namespace mssl {

namespace {
std::string shapeOf(const torch::Tensor& t) {
  std::ostringstream os;
  os << t.sizes();
  return os.str();
}
}  // namespace

NegativeQueue::NegativeQueue(int64_t size, int64_t dim, torch::TensorOptions opts) : size_(size), dim_(dim) {
  if (size < 1) throw std::out_of_range("NegativeQueue: size must be an integer >= 1, got " + std::to_string(size));
  if (dim < 1) throw std::out_of_range("NegativeQueue: dim must be an integer >= 1, got " + std::to_string(dim));
  if (!c10::isFloatingType(c10::typeMetaToScalarType(opts.dtype()))) {
    throw std::invalid_argument("NegativeQueue: dtype must be a floating type (float32, float64, float16, bfloat16)");
  }
  torch::NoGradGuard noGrad;
  keys_ = torch::zeros({size, dim}, opts.requires_grad(false));
  sampleIndex_ = torch::full({size}, -1, opts.dtype(torch::kLong).requires_grad(false));
  valid_ = torch::zeros({size}, opts.dtype(torch::kBool).requires_grad(false));
}

void NegativeQueue::enqueue(const torch::Tensor& keys, const torch::Tensor& sampleIndex) {
  constexpr const char* fn = "NegativeQueue.enqueue";
  if (!keys.defined() || keys.dim() != 2 || keys.size(1) != dim_) {
    throw std::invalid_argument(std::string(fn) + ": keys must have shape [B, " + std::to_string(dim_) + "], got " +
                                (keys.defined() ? shapeOf(keys) : std::string("undefined")));
  }
  if (!keys.is_floating_point()) throw std::invalid_argument(std::string(fn) + ": keys must be floating point");
  const int64_t b = keys.size(0);
  losscheck::indexVector(fn, "sampleIndex", sampleIndex, b, sampleIndex.defined() ? sampleIndex.device() : keys.device());
  if (b == 0) return;
  if (!torch::isfinite(keys).all().item<bool>()) throw std::out_of_range(std::string(fn) + ": keys must be finite (contains NaN or Inf)");
  if (sampleIndex.lt(kUnknownSample).any().item<bool>()) {
    throw std::out_of_range(std::string(fn) + ": sampleIndex values must be dataset indices >= 0, or -1 (unknown sample)");
  }

  torch::NoGradGuard noGrad;
  torch::Tensor k = l2Normalize(keys.detach()).to(keys_.options());
  torch::Tensor idx = sampleIndex.to(sampleIndex_.device());
  // Rows that would be overwritten within this same batch never need writing.
  const int64_t drop = b > size_ ? b - size_ : 0;
  const int64_t n = b - drop;
  const int64_t start = (pointer_ + drop) % size_;
  const int64_t first = std::min(n, size_ - start);
  keys_.narrow(0, start, first).copy_(k.narrow(0, drop, first));
  sampleIndex_.narrow(0, start, first).copy_(idx.narrow(0, drop, first));
  valid_.narrow(0, start, first).fill_(true);
  if (n > first) {  // wrap-around
    keys_.narrow(0, 0, n - first).copy_(k.narrow(0, drop + first, n - first));
    sampleIndex_.narrow(0, 0, n - first).copy_(idx.narrow(0, drop + first, n - first));
    valid_.narrow(0, 0, n - first).fill_(true);
  }
  pointer_ = (start + n) % size_;
  // Counted, not incremented: a restored state may have valid slots anywhere.
  numValid_ = valid_.sum().item<int64_t>();
}

InfoNceNegatives NegativeQueue::negatives() const { return {keys_, valid_, sampleIndex_}; }

std::vector<std::pair<std::string, torch::Tensor>> NegativeQueue::state() const {
  return {{"keys", keys_.clone()},
          {"sampleIndex", sampleIndex_.clone()},
          {"valid", valid_.clone()},
          {"pointer", torch::tensor(pointer_, torch::TensorOptions().dtype(torch::kLong))}};
}

void NegativeQueue::loadState(const std::vector<std::pair<std::string, torch::Tensor>>& s) {
  constexpr const char* fn = "NegativeQueue.loadState";
  auto find = [&](const char* name) -> torch::Tensor {
    for (const auto& [k, v] : s) {
      if (k == name && v.defined()) return v;
    }
    throw std::invalid_argument(std::string(fn) + ": missing entry '" + name + "' (needs keys, sampleIndex, valid, pointer)");
  };
  torch::Tensor keys = find("keys"), idx = find("sampleIndex"), valid = find("valid"), ptr = find("pointer");
  const std::string kd = "[" + std::to_string(size_) + ", " + std::to_string(dim_) + "]";
  const std::string k1 = "[" + std::to_string(size_) + "]";
  if (!keys.is_floating_point() || keys.dim() != 2 || keys.size(0) != size_ || keys.size(1) != dim_) {
    throw std::invalid_argument(std::string(fn) + ": keys must be a floating tensor of shape " + kd + ", got " + shapeOf(keys));
  }
  if (idx.scalar_type() != torch::kLong || idx.dim() != 1 || idx.size(0) != size_) {
    throw std::invalid_argument(std::string(fn) + ": sampleIndex must be an int64 tensor of shape " + k1 + ", got " + shapeOf(idx));
  }
  if (valid.scalar_type() != torch::kBool || valid.dim() != 1 || valid.size(0) != size_) {
    throw std::invalid_argument(std::string(fn) + ": valid must be a bool tensor of shape " + k1 + ", got " + shapeOf(valid));
  }
  if (ptr.scalar_type() != torch::kLong || ptr.numel() != 1) {
    throw std::invalid_argument(std::string(fn) + ": pointer must be a one-element int64 tensor");
  }
  const int64_t p = ptr.item<int64_t>();
  if (p < 0 || p >= size_) {
    throw std::out_of_range(std::string(fn) + ": pointer must be in [0, " + std::to_string(size_) + "), got " + std::to_string(p));
  }
  if (!torch::isfinite(keys).all().item<bool>()) throw std::out_of_range(std::string(fn) + ": keys must be finite");
  torch::NoGradGuard noGrad;
  keys_.copy_(keys);
  sampleIndex_.copy_(idx);
  valid_.copy_(valid);
  pointer_ = p;
  numValid_ = valid_.sum().item<int64_t>();
}

void NegativeQueue::to(const torch::Device& d) {
  keys_ = keys_.to(d);
  sampleIndex_ = sampleIndex_.to(d);
  valid_ = valid_.to(d);
}

}  // namespace mssl
