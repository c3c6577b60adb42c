// Closed forms, masking, stability and argument checks of the contrastive / regression losses.
// Value and gradient against PyTorch autograd are checked from JS with the Python fixtures.
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "check.h"
#include "core/byol_loss.h"
#include "core/infonce.h"
#include "core/ntxent.h"

namespace {

// Throws E, and the message names `needle`.
template <typename E, typename F>
void expectThrow(F&& f, const std::string& needle) {
  try {
    f();
  } catch (const E& e) {
    if (std::string(e.what()).find(needle) == std::string::npos) {
      throw mssl_test::Failure(std::string("message '") + e.what() + "' does not mention '" + needle + "'");
    }
    return;
  } catch (const std::exception& e) {
    throw mssl_test::Failure(std::string("wrong exception type: ") + e.what());
  }
  throw mssl_test::Failure("expected an exception mentioning '" + needle + "'");
}

torch::Tensor same(int64_t n, int64_t d, torch::Dtype dt = torch::kDouble) {
  return torch::ones({n, d}, torch::TensorOptions().dtype(dt)) * 0.7;
}

bool allFinite(const torch::Tensor& t) { return torch::isfinite(t).all().item<bool>(); }

}  // namespace

MSSL_TEST(loss_ntxent_pair_closed_form_all_equal) {
  for (auto dt : {torch::kFloat, torch::kDouble}) {
    for (int64_t n : {1, 2, 5}) {
      for (double tau : {0.05, 0.2, 1.0}) {
        double v = mssl::ntXentPair(same(n, 8, dt), same(n, 8, dt), tau).item<double>();
        CHECK_CLOSE(v, std::log(2.0 * n - 1), dt == torch::kFloat ? 1e-5 : 1e-12);
      }
    }
  }
}

MSSL_TEST(loss_ntxent_general_equals_pair_with_explicit_indices) {
  torch::manual_seed(1);
  auto a = torch::randn({4, 6}, torch::kDouble), b = torch::randn({4, 6}, torch::kDouble);
  auto all = torch::cat({a, b});
  auto self = torch::arange(8, torch::kLong);
  auto pos = torch::remainder(self + 4, 8);
  double general = mssl::ntXent(all, all, pos, self, 0.3).item<double>();
  CHECK_CLOSE(general, mssl::ntXentPair(a, b, 0.3).item<double>(), 1e-12);
}

MSSL_TEST(loss_ntxent_self_index_is_masked_and_minus_one_is_none) {
  // All-equal: C candidates, self masked -> log(C-1); no self -> log(C).
  auto x = same(3, 4);
  auto pos = torch::tensor({1, 2, 0}, torch::kLong);
  auto self = torch::tensor({0, 1, 2}, torch::kLong);
  auto none = torch::full({3}, -1, torch::kLong);
  CHECK_CLOSE(mssl::ntXent(x, x, pos, self, 0.1).item<double>(), std::log(2.0), 1e-12);
  CHECK_CLOSE(mssl::ntXent(x, x, pos, none, 0.1).item<double>(), std::log(3.0), 1e-12);
  CHECK_CLOSE(mssl::ntXent(x, x, pos, torch::Tensor(), 0.1).item<double>(), std::log(3.0), 1e-12);
  expectThrow<std::out_of_range>([&] { mssl::ntXent(x, x, pos, pos, 0.1); }, "selfIndex");
  expectThrow<std::out_of_range>([&] { mssl::ntXent(x, x, torch::tensor({1, 3, 0}, torch::kLong), self, 0.1); }, "positiveIndex");
  expectThrow<std::invalid_argument>([&] { mssl::ntXent(x, x, pos.to(torch::kInt), self, 0.1); }, "positiveIndex");
}

MSSL_TEST(loss_momentum_ntxent_closed_form_and_keys_get_no_gradient) {
  auto z1 = same(3, 5).requires_grad_(), z2 = same(3, 5).requires_grad_();
  auto k1 = same(3, 5).requires_grad_(), k2 = same(3, 5).requires_grad_();
  auto loss = mssl::momentumNtXent(z1, z2, k1, k2, 0.2);
  CHECK_CLOSE(loss.item<double>(), std::log(5.0), 1e-12);
  torch::manual_seed(2);
  auto r = [] { return torch::randn({3, 5}, torch::kDouble).requires_grad_(); };
  auto a = r(), b = r(), c = r(), d = r();
  mssl::momentumNtXent(a, b, c, d, 0.2).backward();
  CHECK(a.grad().defined() && b.grad().defined());
  CHECK(!c.grad().defined() && !d.grad().defined());
}

MSSL_TEST(loss_infonce_closed_form_log_k_plus_1) {
  const int64_t n = 4, d = 6, k = 7;
  auto q = same(n, d);
  auto keys = same(k + 3, d);
  // 3 invalid slots must not count.
  auto valid = torch::ones({k + 3}, torch::kBool);
  valid.narrow(0, 2, 3).fill_(false);
  mssl::InfoNceNegatives neg{keys, valid, {}};
  for (double tau : {0.05, 0.2}) {
    CHECK_CLOSE(mssl::infoNce(q, q, neg, {}, false, tau).item<double>(), std::log(k + 1.0), 1e-12);
    // In-batch adds the other N-1 keys.
    CHECK_CLOSE(mssl::infoNce(q, q, neg, {}, true, tau).item<double>(), std::log(k + n * 1.0), 1e-12);
    CHECK_CLOSE(mssl::infoNce(q, q, {}, {}, true, tau).item<double>(), std::log(n * 1.0), 1e-12);
  }
}

MSSL_TEST(loss_infonce_same_sample_index_is_masked) {
  auto q = same(2, 3);
  auto keys = same(5, 3);
  auto sampleIndex = torch::tensor({10, 11, 10, 12, 13}, torch::kLong);
  auto queryIndex = torch::tensor({10, 12}, torch::kLong);
  mssl::InfoNceNegatives neg{keys, {}, sampleIndex};
  // Query 10 keeps 3 negatives, query 12 keeps 4.
  double want = 0.5 * (std::log(4.0) + std::log(5.0));
  CHECK_CLOSE(mssl::infoNce(q, q, neg, queryIndex, false, 0.2).item<double>(), want, 1e-12);
  // In-batch duplicates of a sample are masked too.
  auto dupIndex = torch::tensor({10, 10}, torch::kLong);
  double dup = mssl::infoNce(q, q, mssl::InfoNceNegatives{}, dupIndex, true, 0.2).item<double>();
  CHECK_CLOSE(dup, 0.0, 1e-12);
}

MSSL_TEST(loss_infonce_masked_slots_give_zero_gradient_not_nan) {
  torch::manual_seed(3);
  auto q = torch::randn({3, 4}, torch::kDouble).requires_grad_();
  auto k = torch::randn({3, 4}, torch::kDouble);
  // Invalid slots hold huge garbage: masking must make it irrelevant.
  auto keys = torch::randn({6, 4}, torch::kDouble).requires_grad_();
  auto valid = torch::tensor({true, false, true, false, false, true});
  auto loss = mssl::infoNce(q, k, {keys, valid, {}}, {}, false, 0.05);
  loss.backward();
  CHECK(allFinite(q.grad()) && allFinite(keys.grad()));
  CHECK(keys.grad()[1].abs().sum().item<double>() == 0.0);
  // Masking equals dropping the slots.
  auto kept = keys.detach().index_select(0, torch::tensor({0, 2, 5}, torch::kLong));
  CHECK_CLOSE(loss.item<double>(), mssl::infoNce(q, k, {kept, {}, {}}, {}, false, 0.05).item<double>(), 1e-12);
  // Empty queue, no in-batch: nothing to contrast, loss 0 (not NaN).
  auto none = torch::zeros({6}, torch::kBool);
  CHECK_CLOSE(mssl::infoNce(q, k, {keys, none, {}}, {}, false, 0.2).item<double>(), 0.0, 0.0);
}

MSSL_TEST(loss_stable_at_low_temperature_near_identical) {
  torch::manual_seed(4);
  for (auto dt : {torch::kFloat, torch::kDouble}) {
    auto base = torch::randn({1, 16}, dt);
    auto a = (base + 1e-7 * torch::randn({8, 16}, dt)).requires_grad_();
    auto b = (base + 1e-7 * torch::randn({8, 16}, dt)).requires_grad_();
    auto l1 = mssl::ntXentPair(a, b, 0.05);
    l1.backward();
    CHECK(allFinite(l1) && allFinite(a.grad()) && allFinite(b.grad()));
    CHECK_CLOSE(l1.item<double>(), std::log(15.0), 1e-3);
    auto keys = (base + 1e-7 * torch::randn({12, 16}, dt));
    auto l2 = mssl::infoNce(a, b, {keys, {}, {}}, {}, true, 0.05);
    CHECK(allFinite(l2));
    // Far apart at low τ: logits ±20, exp would still fit, but the LSE path must be exact too.
    auto x = torch::eye(16, dt).narrow(0, 0, 4), y = -x;
    CHECK(allFinite(mssl::ntXentPair(x, y, 0.05)));
  }
}

MSSL_TEST(loss_fp16_normalisation_has_no_nan) {
  auto tiny = torch::full({2, 64}, 1e-4, torch::kHalf);      // sum of squares underflows in fp16
  auto large = torch::full({2, 64}, 1000.0, torch::kHalf);   // sum of squares overflows fp16
  auto zero = torch::zeros({2, 64}, torch::kHalf);
  for (const auto& x : {tiny, large}) {
    auto n = mssl::l2Normalize(x);
    CHECK(n.scalar_type() == torch::kHalf);
    CHECK(allFinite(n));
    CHECK_CLOSE(n.to(torch::kFloat).norm(2, {1}).min().item<double>(), 1.0, 1e-2);
  }
  CHECK(mssl::l2Normalize(zero).abs().sum().item<double>() == 0.0);
  // Half losses are computed in float32.
  auto loss = mssl::ntXentPair(large, tiny, 0.05);
  CHECK(loss.scalar_type() == torch::kFloat && allFinite(loss));
}

MSSL_TEST(loss_byol_known_values) {
  auto x = torch::randn({5, 7}, torch::kDouble);
  CHECK_CLOSE(mssl::byolLoss(x, 3.0 * x).item<double>(), 0.0, 1e-12);
  CHECK_CLOSE(mssl::byolLoss(x, -x).item<double>(), 4.0, 1e-12);
  auto e = torch::eye(4, torch::kDouble);
  CHECK_CLOSE(mssl::byolLoss(e, e.roll(1, 0)).item<double>(), 2.0, 1e-12);
}

MSSL_TEST(loss_argument_errors_name_the_argument) {
  auto x = torch::randn({3, 4});
  for (double tau : {0.0, -0.1, std::nan(""), std::numeric_limits<double>::infinity()}) {
    expectThrow<std::out_of_range>([&] { mssl::ntXentPair(x, x, tau); }, "temperature");
    expectThrow<std::out_of_range>([&] { mssl::infoNce(x, x, {}, {}, true, tau); }, "temperature");
  }
  expectThrow<std::invalid_argument>([&] { mssl::ntXentPair(x, torch::randn({3, 5}), 0.2); }, "b");
  expectThrow<std::invalid_argument>([&] { mssl::ntXentPair(x, torch::randn({2, 4}), 0.2); }, "shape");
  expectThrow<std::invalid_argument>([&] { mssl::ntXentPair(x, x.to(torch::kDouble), 0.2); }, "dtype");
  expectThrow<std::invalid_argument>([&] { mssl::ntXentPair(x.to(torch::kLong), x.to(torch::kLong), 0.2); }, "float");
  expectThrow<std::invalid_argument>([&] { mssl::byolLoss(torch::randn({4}), torch::randn({4})); }, "2-D");
  auto bad = x.clone();
  bad[1][2] = std::nan("");
  expectThrow<std::out_of_range>([&] { mssl::ntXentPair(x, bad, 0.2); }, "b must be finite");
  bad[1][2] = std::numeric_limits<double>::infinity();
  expectThrow<std::out_of_range>([&] { mssl::byolLoss(bad, x); }, "p must be finite");
  expectThrow<std::invalid_argument>([&] { mssl::infoNce(x, x, {}, {}, false, 0.2); }, "negatives");
  expectThrow<std::invalid_argument>([&] { mssl::infoNce(x, x, {torch::randn({5, 4}), torch::ones({4}, torch::kBool), {}}, {}, false, 0.2); },
                                     "negatives.valid");
  expectThrow<std::invalid_argument>([&] { mssl::infoNce(x, x, {torch::randn({5, 4}), {}, torch::zeros({5}, torch::kInt)}, {}, false, 0.2); },
                                     "negatives.sampleIndex");
  expectThrow<std::invalid_argument>([&] { mssl::infoNce(x, x, {}, torch::zeros({2}, torch::kLong), true, 0.2); }, "queryIndex");
}
