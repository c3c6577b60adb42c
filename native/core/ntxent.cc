#include "core/ntxent.h"

#include <cmath>
#include <limits>
#include <sstream>
#include <stdexcept>

namespace mssl {

namespace {
constexpr double kNormEps = 1e-6;

std::string shapeOf(const torch::Tensor& t) {
  std::ostringstream os;
  os << t.sizes();
  return os.str();
}

// Cross entropy from already-normalised rows (log-softmax + NLL: the log-sum-exp form); masked
// entries are -inf, so they drop out of the softmax and get zero gradient.
// - 1/τ is folded into the [M, D] anchors instead of dividing the [M, C] logits: a small pass
//   instead of a large one, forward and backward.
// - With `diagonalSelf` (the anchors are the candidates, row i excludes column i) the diagonal is
//   filled in place, as torch's fill_diagonal_: no [M, C] mask, no second [M, C] tensor.
// - cross_entropy's fused log_softmax/nll backward replaces logsumexp + gather (which scattered a
//   dense [M, C] gradient for the positives).
torch::Tensor ntXentNormalized(const torch::Tensor& an, const torch::Tensor& cn, const torch::Tensor& positiveIndex,
                               const torch::Tensor& selfMask, bool diagonalSelf, double temperature) {
  torch::Tensor logits = torch::matmul(an * (1.0 / temperature), cn.t());
  constexpr double kNegInf = -std::numeric_limits<double>::infinity();
  if (diagonalSelf) {
    logits.diagonal().fill_(kNegInf);
  } else if (selfMask.defined()) {
    logits = logits.masked_fill(selfMask, kNegInf);
  }
  return torch::nn::functional::cross_entropy(logits, positiveIndex);
}
}  // namespace

namespace losscheck {

void temperature(const char* fn, double tau) {
  // reliability #13: logits are cos/τ; below kMinTemperature they overflow float32 (NaN loss).
  if (!std::isfinite(tau) || tau < kMinTemperature) {
    std::ostringstream os;
    os << fn << ": temperature must be a finite number >= " << kMinTemperature << ", got " << tau;
    throw std::out_of_range(os.str());
  }
}

void embeddings(const char* fn, const char* arg, const torch::Tensor& x, int64_t minRows) {
  const std::string where = std::string(fn) + ": " + arg;
  if (!x.defined()) throw std::invalid_argument(where + " must be a tensor");
  if (x.dim() != 2) throw std::invalid_argument(where + " must be 2-D [rows, dim], got shape " + shapeOf(x));
  if (!x.is_floating_point()) {
    throw std::invalid_argument(where + " must be float16, bfloat16, float32 or float64, got " +
                                std::string(c10::toString(x.scalar_type())));
  }
  if (x.size(0) < minRows || x.size(1) < 1) {
    throw std::invalid_argument(where + " needs at least " + std::to_string(minRows) + " row(s) and 1 column, got shape " +
                                shapeOf(x));
  }
  // One reduction (and one sync on CUDA): a NaN here would otherwise surface steps later.
  if (!torch::isfinite(x).all().item<bool>()) throw std::out_of_range(where + " must be finite (contains NaN or Inf)");
}

void compatible(const char* fn, const char* xArg, const torch::Tensor& x, const char* yArg, const torch::Tensor& y,
                bool sameRows) {
  const std::string pre = std::string(fn) + ": ";
  if (y.scalar_type() != x.scalar_type()) {
    throw std::invalid_argument(pre + yArg + " must have the dtype of " + xArg + " (" + c10::toString(x.scalar_type()) +
                                "), got " + c10::toString(y.scalar_type()));
  }
  if (y.device() != x.device()) throw std::invalid_argument(pre + yArg + " must be on the device of " + xArg);
  if (y.size(1) != x.size(1) || (sameRows && y.size(0) != x.size(0))) {
    throw std::invalid_argument(pre + yArg + " must have shape " + (sameRows ? "equal to " : "[*, D] matching ") + xArg + " " +
                                shapeOf(x) + ", got " + shapeOf(y));
  }
}

void indexVector(const char* fn, const char* arg, const torch::Tensor& idx, int64_t n, const torch::Device& device) {
  const std::string where = std::string(fn) + ": " + arg;
  if (!idx.defined()) throw std::invalid_argument(where + " must be a tensor");
  if (idx.scalar_type() != torch::kLong) {
    throw std::invalid_argument(where + " must be int64, got " + std::string(c10::toString(idx.scalar_type())));
  }
  if (idx.dim() != 1 || idx.size(0) != n) {
    throw std::invalid_argument(where + " must have shape [" + std::to_string(n) + "], got " + shapeOf(idx));
  }
  if (idx.device() != device) throw std::invalid_argument(where + " must be on the device of the embeddings");
}

torch::Tensor computeDtype(const torch::Tensor& x) {
  auto s = x.scalar_type();
  return (s == torch::kHalf || s == torch::kBFloat16) ? x.to(torch::kFloat) : x;
}

}  // namespace losscheck

torch::Tensor l2Normalize(const torch::Tensor& x) {
  torch::Tensor xf = losscheck::computeDtype(x);
  torch::Tensor norm = xf.norm(2, {-1}, /*keepdim=*/true).clamp_min(kNormEps);
  return (xf / norm).to(x.scalar_type());
}

torch::Tensor ntXent(const torch::Tensor& anchors, const torch::Tensor& candidates, const torch::Tensor& positiveIndex,
                     const torch::Tensor& selfIndex, double temperature) {
  constexpr const char* fn = "ntXent";
  losscheck::temperature(fn, temperature);
  losscheck::embeddings(fn, "anchors", anchors);
  losscheck::embeddings(fn, "candidates", candidates);
  losscheck::compatible(fn, "anchors", anchors, "candidates", candidates, false);
  const int64_t m = anchors.size(0), c = candidates.size(0);
  losscheck::indexVector(fn, "positiveIndex", positiveIndex, m, anchors.device());
  if (positiveIndex.lt(0).any().item<bool>() || positiveIndex.ge(c).any().item<bool>()) {
    throw std::out_of_range(std::string(fn) + ": positiveIndex values must be in [0, " + std::to_string(c) + ")");
  }
  torch::Tensor selfMask;
  if (selfIndex.defined()) {
    losscheck::indexVector(fn, "selfIndex", selfIndex, m, anchors.device());
    if (selfIndex.lt(-1).any().item<bool>() || selfIndex.ge(c).any().item<bool>()) {
      throw std::out_of_range(std::string(fn) + ": selfIndex values must be in [-1, " + std::to_string(c) + ") (-1 = none)");
    }
    if (selfIndex.eq(positiveIndex).any().item<bool>()) {
      throw std::out_of_range(std::string(fn) + ": selfIndex must differ from positiveIndex for every anchor");
    }
    selfMask = torch::arange(c, positiveIndex.options()).unsqueeze(0).eq(selfIndex.unsqueeze(1));
  }
  torch::Tensor an = l2Normalize(losscheck::computeDtype(anchors));
  torch::Tensor cn = l2Normalize(losscheck::computeDtype(candidates));
  return ntXentNormalized(an, cn, positiveIndex, selfMask, /*diagonalSelf=*/false, temperature);
}

torch::Tensor ntXentPair(const torch::Tensor& a, const torch::Tensor& b, double temperature) {
  constexpr const char* fn = "ntXentPair";
  losscheck::temperature(fn, temperature);
  losscheck::embeddings(fn, "a", a);
  losscheck::embeddings(fn, "b", b);
  losscheck::compatible(fn, "a", a, "b", b, true);
  const int64_t n = a.size(0);
  auto idxOpts = torch::TensorOptions().dtype(torch::kLong).device(a.device());
  // Row i of [a; b] has its positive at i+N (mod 2N) and itself at i.
  torch::Tensor positive = torch::cat({torch::arange(n, 2 * n, idxOpts), torch::arange(0, n, idxOpts)});
  // Normalise the set once; it is both the anchors and the candidates (self = the diagonal).
  torch::Tensor z = l2Normalize(losscheck::computeDtype(torch::cat({a, b}, 0)));
  return ntXentNormalized(z, z, positive, torch::Tensor(), /*diagonalSelf=*/true, temperature);
}

torch::Tensor momentumNtXent(const torch::Tensor& z1, const torch::Tensor& z2, const torch::Tensor& k1,
                             const torch::Tensor& k2, double temperature) {
  constexpr const char* fn = "momentumNtXent";
  losscheck::temperature(fn, temperature);
  losscheck::embeddings(fn, "z1", z1);
  losscheck::embeddings(fn, "z2", z2);
  losscheck::embeddings(fn, "k1", k1);
  losscheck::embeddings(fn, "k2", k2);
  losscheck::compatible(fn, "z1", z1, "z2", z2, true);
  losscheck::compatible(fn, "z1", z1, "k1", k1, true);
  losscheck::compatible(fn, "z1", z1, "k2", k2, true);
  return 0.5 * (ntXentPair(z2, k1.detach(), temperature) + ntXentPair(z1, k2.detach(), temperature));
}

}  // namespace mssl
