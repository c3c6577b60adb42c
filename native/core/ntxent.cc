#include "core/ntxent.h"

#include <algorithm>
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
//   instead of a large one, forward and backward (1/√τ into both sides of the Gram matrix).
// - Anchors = candidates: GramFn's symmetric backward, one matmul instead of two.
// - With `diagonalSelf` (the anchors are the candidates, row i excludes column i) the diagonal is
//   filled in place, as torch's fill_diagonal_: no [M, C] mask, no second [M, C] tensor.
// - cross_entropy's fused log_softmax/nll backward replaces logsumexp + gather (which scattered a
//   dense [M, C] gradient for the positives).
// g + gᵀ for a square CPU matrix, in 64×64 tiles: ATen's `g + g.t()` walks the transposed operand
// column by column, which at M = 2048 (16 MiB) cost more than the matmul it saves.
torch::Tensor symmetricSum(const torch::Tensor& g) {
  if (!g.device().is_cpu() || !g.is_contiguous() || g.dim() != 2 || g.size(0) != g.size(1) ||
      (g.scalar_type() != torch::kFloat && g.scalar_type() != torch::kDouble)) {
    return g + g.t();
  }
  torch::Tensor out = torch::empty_like(g);
  const int64_t n = g.size(0);
  constexpr int64_t kTile = 64;
  AT_DISPATCH_FLOATING_TYPES(g.scalar_type(), "mssl_symmetric_sum", [&] {
    const scalar_t* a = g.data_ptr<scalar_t>();
    scalar_t* o = out.data_ptr<scalar_t>();
    at::parallel_for(0, (n + kTile - 1) / kTile, 1, [&](int64_t t0, int64_t t1) {
      for (int64_t ti = t0; ti < t1; ++ti) {
        const int64_t i1 = std::min(n, (ti + 1) * kTile);
        for (int64_t j0 = 0; j0 < n; j0 += kTile) {
          const int64_t j1 = std::min(n, j0 + kTile);
          for (int64_t i = ti * kTile; i < i1; ++i) {
            for (int64_t j = j0; j < j1; ++j) o[i * n + j] = a[i * n + j] + a[j * n + i];
          }
        }
      }
    });
  });
  return out;
}

// z·zᵀ with the backward of a symmetric product: ∂L/∂z = (G + Gᵀ)·z, one [M, M]·[M, D] matmul
// where autograd's matmul backward runs two (G·z and Gᵀ·z); a third of the loss's matmul FLOPs.
struct GramFn : public torch::autograd::Function<GramFn> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& z) {
    ctx->save_for_backward({z});
    return torch::mm(z, z.t());
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::variable_list grads) {
    const torch::Tensor z = ctx->get_saved_variables()[0];
    const torch::Tensor& g = grads[0];
    return {torch::mm(symmetricSum(g.contiguous()), z)};
  }
};

torch::Tensor ntXentNormalized(const torch::Tensor& an, const torch::Tensor& cn, const torch::Tensor& positiveIndex,
                               const torch::Tensor& selfMask, bool diagonalSelf, double temperature) {
  // The anchors are the candidates (SimCLR's [a; b]): scale both by 1/√τ and take the Gram matrix.
  torch::Tensor logits = diagonalSelf && an.is_same(cn) ? GramFn::apply(an * (1.0 / std::sqrt(temperature)))
                                                        : torch::matmul(an * (1.0 / temperature), cn.t());
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

void embeddings(const char* fn, const char* arg, const torch::Tensor& x, int64_t minRows, bool finite) {
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
  if (!finite) return;
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
  // Finiteness is checked on the loss instead of on each input (a NaN/Inf anywhere in a or b
  // makes its row's normalisation, hence the loss, non-finite): one scalar read instead of two
  // [N, D] reductions, the largest extra cost against the textbook loss at N = 256. The inputs
  // are only scanned, to name the culprit, when the loss is not finite.
  losscheck::embeddings(fn, "a", a, 1, /*finite=*/false);
  losscheck::embeddings(fn, "b", b, 1, /*finite=*/false);
  losscheck::compatible(fn, "a", a, "b", b, true);
  const int64_t n = a.size(0);
  auto idxOpts = torch::TensorOptions().dtype(torch::kLong).device(a.device());
  // Row i of [a; b] has its positive at i+N (mod 2N) and itself at i.
  torch::Tensor positive = torch::cat({torch::arange(n, 2 * n, idxOpts), torch::arange(0, n, idxOpts)});
  // Normalise the set once; it is both the anchors and the candidates (self = the diagonal).
  torch::Tensor z = l2Normalize(losscheck::computeDtype(torch::cat({a, b}, 0)));
  torch::Tensor loss = ntXentNormalized(z, z, positive, torch::Tensor(), /*diagonalSelf=*/true, temperature);
  if (!std::isfinite(loss.item<double>())) {
    losscheck::embeddings(fn, "a", a);
    losscheck::embeddings(fn, "b", b);
  }
  return loss;
}

torch::Tensor ntXentPairGathered(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& allA, const torch::Tensor& allB,
                                 int64_t offset, double temperature) {
  constexpr const char* fn = "ntXentPairGathered";
  losscheck::compatible(fn, "a", a, "b", b, true);
  losscheck::compatible(fn, "allA", allA, "allB", allB, true);
  const int64_t n = a.size(0), N = allA.size(0);
  if (offset < 0 || offset + n > N) throw std::out_of_range(std::string(fn) + ": offset must put a's rows inside allA");
  auto idx = torch::TensorOptions().dtype(torch::kLong).device(a.device());
  torch::Tensor local = torch::arange(offset, offset + n, idx);
  // a_j's positive is b_j (row N + offset + j of the candidates), b_j's is a_j; each is itself once.
  torch::Tensor positive = torch::cat({local + N, local});
  torch::Tensor self = torch::cat({local, local + N});
  return ntXent(torch::cat({a, b}, 0), torch::cat({allA, allB}, 0), positive, self, temperature);
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
