// Projector/predictor MLP: nn.Sequential-style names, shapes, lastBn, clone, validation.
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "check.h"
#include "core/mlp.h"


MSSL_TEST(mlp_names_and_shapes_like_sequential) {
  mssl::Mlp m(mssl::MlpConfig{16, 32, 8});
  std::vector<std::string> names;
  for (auto& kv : m->named_parameters()) names.push_back(kv.key());
  CHECK((names == std::vector<std::string>{"0.weight", "0.bias", "1.weight", "1.bias", "3.weight", "3.bias"}));
  std::vector<std::string> bufs;
  for (auto& kv : m->named_buffers()) bufs.push_back(kv.key());
  CHECK((bufs == std::vector<std::string>{"1.running_mean", "1.running_var", "1.num_batches_tracked"}));
  auto p = m->named_parameters();
  CHECK(p["0.weight"].sizes().vec() == (std::vector<int64_t>{32, 16}));
  CHECK(p["3.weight"].sizes().vec() == (std::vector<int64_t>{8, 32}));
  auto y = m->forward(torch::randn({4, 16}));
  CHECK(y.sizes().vec() == (std::vector<int64_t>{4, 8}));
  // Linear→BN→ReLU→Linear by hand (train mode: batch statistics, biased variance).
  auto x = torch::randn({5, 16});
  auto h = torch::linear(x, p["0.weight"], p["0.bias"]);
  h = (h - h.mean(0)) / torch::sqrt(h.var(0, /*unbiased=*/false) + 1e-5) * p["1.weight"] + p["1.bias"];
  auto ref = torch::linear(torch::relu(h), p["3.weight"], p["3.bias"]);
  CHECK(torch::allclose(m->forward(x), ref, 1e-4, 1e-5));
}

MSSL_TEST(mlp_last_bn) {
  mssl::MlpConfig c{16, 32, 8, true};
  mssl::Mlp m(c);
  std::vector<std::string> names;
  for (auto& kv : m->named_parameters()) names.push_back(kv.key());
  CHECK((names == std::vector<std::string>{"0.weight", "0.bias", "1.weight", "1.bias", "3.weight"}));
  CHECK(m->named_buffers().contains("4.running_mean"));
  auto y = m->forward(torch::randn({6, 16}) * 3 + 2);
  // Affine-free BN output: zero mean, unit (biased) variance per column in train mode.
  CHECK_CLOSE(y.mean(0).abs().max().item<double>(), 0.0, 1e-5);
  CHECK_CLOSE(y.var(0, false).mean().item<double>(), 1.0, 1e-3);
}

MSSL_TEST(mlp_clone_independent) {
  mssl::Mlp m(mssl::MlpConfig{8, 16, 4});
  m->forward(torch::randn({4, 8}));  // non-default running stats
  auto c = std::dynamic_pointer_cast<mssl::MlpImpl>(m->clone());
  CHECK(c != nullptr);
  m->eval();
  c->eval();
  auto x = torch::randn({3, 8});
  CHECK(torch::equal(m->forward(x), c->forward(x)));
  {
    torch::NoGradGuard ng;
    for (auto& t : c->parameters()) t.zero_();
  }
  CHECK(!torch::equal(m->forward(x), c->forward(x)));
  CHECK(m->parameters()[0].abs().sum().item<double>() > 0);
}

MSSL_TEST(mlp_validation) {
  CHECK(mssl_test::throwsAs<std::out_of_range>([] { mssl::Mlp(mssl::MlpConfig{0, 4, 4}); }, "inDim"));
  CHECK(mssl_test::throwsAs<std::out_of_range>([] { mssl::Mlp(mssl::MlpConfig{4, -1, 4}); }, "hiddenDim"));
  CHECK(mssl_test::throwsAs<std::out_of_range>([] { mssl::Mlp(mssl::MlpConfig{4, 4, 0}); }, "outDim"));
  mssl::Mlp m(mssl::MlpConfig{4, 8, 2});
  CHECK(mssl_test::throwsAs<std::invalid_argument>([&] { m->forward(torch::randn({3, 5})); }, "[B, 4]"));
  CHECK(mssl_test::throwsAs<std::invalid_argument>([&] { m->forward(torch::randn({3})); }, "[B, 4]"));
  CHECK(mssl_test::throwsAs<std::invalid_argument>([&] { m->forward(torch::randn({1, 4})); }, ">= 2 rows"));
  m->eval();
  CHECK(m->forward(torch::randn({1, 4})).sizes().vec() == (std::vector<int64_t>{1, 2}));
}
