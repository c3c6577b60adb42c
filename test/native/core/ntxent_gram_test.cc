// ntXentPair's symmetric Gram backward ((G + Gᵀ)·z, tiled G + Gᵀ on CPU) against the textbook
// NT-Xent through plain autograd, at sizes that are not multiples of the 64-row tile.
#include <torch/torch.h>

#include "check.h"
#include "core/ntxent.h"

namespace {

torch::Tensor textbook(const torch::Tensor& a, const torch::Tensor& b, double tau) {
  const int64_t n = a.size(0);
  torch::Tensor z = torch::nn::functional::normalize(torch::cat({a, b}, 0), torch::nn::functional::NormalizeFuncOptions().dim(1));
  torch::Tensor sim = torch::matmul(z, z.t()) / tau;
  sim = sim.masked_fill(torch::eye(2 * n, torch::TensorOptions().dtype(torch::kBool)), -std::numeric_limits<double>::infinity());
  torch::Tensor target = torch::cat({torch::arange(n, 2 * n), torch::arange(0, n)});
  return torch::nn::functional::cross_entropy(sim, target);
}

}  // namespace

MSSL_TEST(ntxent_gram_backward_matches_textbook_autograd) {
  torch::manual_seed(4);
  for (int64_t n : {1, 37, 100, 300}) {
    for (auto dt : {torch::kDouble, torch::kFloat}) {
      torch::Tensor a0 = torch::randn({n, 24}, dt), b0 = torch::randn({n, 24}, dt);
      torch::Tensor a = a0.clone().requires_grad_(true), b = b0.clone().requires_grad_(true);
      torch::Tensor ra = a0.clone().requires_grad_(true), rb = b0.clone().requires_grad_(true);
      torch::Tensor loss = mssl::ntXentPair(a, b, 0.3), ref = textbook(ra, rb, 0.3);
      auto g = torch::autograd::grad({loss}, {a, b});
      auto r = torch::autograd::grad({ref}, {ra, rb});
      const double tol = dt == torch::kDouble ? 1e-10 : 1e-5;
      CHECK_CLOSE(loss.item<double>(), ref.item<double>(), tol * std::max(1.0, std::abs(ref.item<double>())));
      for (int k = 0; k < 2; ++k) {
        const double scale = std::max(r[k].abs().max().item<double>(), 1e-30);
        CHECK((g[k] - r[k]).abs().max().item<double>() / scale < tol * 10);
      }
    }
  }
}
