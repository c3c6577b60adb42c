#include "core/byol_loss.h"

#include "core/ntxent.h"

namespace mssl {

torch::Tensor byolLoss(const torch::Tensor& p, const torch::Tensor& k) {
  constexpr const char* fn = "byolLoss";
  losscheck::embeddings(fn, "p", p);
  losscheck::embeddings(fn, "k", k);
  losscheck::compatible(fn, "p", p, "k", k, true);
  torch::Tensor pn = l2Normalize(losscheck::computeDtype(p));
  torch::Tensor kn = l2Normalize(losscheck::computeDtype(k));
  return (2.0 - 2.0 * (pn * kn).sum(1)).mean();
}

}  // namespace mssl
