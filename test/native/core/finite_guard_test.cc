// The divergence guard: finite state passes; a NaN/Inf loss, gradient, parameter or BatchNorm
// statistic is named with the step and the learning rate.
#include <torch/torch.h>

#include <limits>

#include "check.h"
#include "core/finite_guard.h"

namespace {
struct Net : torch::nn::Module {
  Net() {
    fc = register_module("fc", torch::nn::Linear(3, 2));
    bn = register_module("bn", torch::nn::BatchNorm1d(2));
  }
  torch::nn::Linear fc{nullptr};
  torch::nn::BatchNorm1d bn{nullptr};
};
}  // namespace

MSSL_TEST(finite_guard_names_the_offender) {
  Net net;
  torch::Tensor loss = net.bn->forward(net.fc->forward(torch::randn({4, 3}))).pow(2).sum();
  loss.backward();
  mssl::checkFinite(7, 0.3, loss, {{"net", &net}});  // all finite: no throw
  const double inf = std::numeric_limits<double>::infinity();
  CHECK(mssl_test::throwsAs<mssl::DivergedError>([&] { mssl::checkFinite(7, 0.3, torch::tensor(inf), {{"net", &net}}); }, "at step 7 (lr 0.3): the loss is not finite"));
  {
    torch::NoGradGuard g;
    net.fc->weight.grad()[0][1] = std::nan("");
  }
  CHECK(mssl_test::throwsAs<mssl::DivergedError>([&] { mssl::checkFinite(3, 1e6, loss, {{"net", &net}}); }, "gradient of net.fc.weight"));
  net.fc->weight.grad().zero_();
  {
    torch::NoGradGuard g;
    net.bn->running_var[1] = inf;
  }
  CHECK(mssl_test::throwsAs<mssl::DivergedError>([&] { mssl::checkFinite(3, 1e6, loss, {{"net", &net}}); }, "buffer net.bn.running_var"));
  try {
    mssl::checkFinite(3, 1e6, loss, {{"net", &net}});
  } catch (const mssl::DivergedError& e) {
    CHECK(e.step() == 3 && e.lr() == 1e6);
  }
  // Huge but finite values are not divergence (sums are taken in double).
  {
    torch::NoGradGuard g;
    net.bn->running_var.fill_(3e38);
    net.fc->weight.fill_(3e38);
  }
  mssl::checkFinite(3, 1e6, loss, {{"net", &net}, {"none", nullptr}});
  torch::Tensor z = torch::ones({2, 2});
  z[1][1] = std::nan("");
  CHECK(mssl_test::throwsAs<mssl::DivergedError>([&] { mssl::checkFiniteOutputs(4, 0.1, {&z}); }, "output is not finite"));
}
