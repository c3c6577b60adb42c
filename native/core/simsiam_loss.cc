#include "core/simsiam_loss.h"

#include "core/ntxent.h"

namespace mssl {

torch::Tensor negativeCosine(const torch::Tensor& p, const torch::Tensor& z) {
  constexpr const char* fn = "negativeCosine";
  losscheck::embeddings(fn, "p", p);
  losscheck::embeddings(fn, "z", z);
  losscheck::compatible(fn, "p", p, "z", z, true);
  torch::Tensor pn = l2Normalize(losscheck::computeDtype(p));
  torch::Tensor zn = l2Normalize(losscheck::computeDtype(z.detach()));  // the stop-gradient
  return -(pn * zn).sum(1).mean();
}

}  // namespace mssl
