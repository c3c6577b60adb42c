// Optimizer factory and LARS: closed-form steps, bias/norm exclusion, agreement with LibTorch's
// own optimizers, state save/load.
#include <torch/torch.h>

#include <sstream>
#include <stdexcept>

#include "check.h"
#include "core/lars.h"
#include "core/optim.h"

namespace {

struct Params {
  torch::Tensor w, b;  // a weight (ndim 2) and a bias (ndim 1)
  std::vector<torch::Tensor> list() const { return {w, b}; }
};

Params makeParams(uint64_t seed) {
  torch::manual_seed(seed);
  Params p;
  p.w = torch::randn({3, 4}, torch::kDouble).requires_grad_(true);
  p.b = torch::randn({3}, torch::kDouble).requires_grad_(true);
  return p;
}

void setGrads(const Params& p, uint64_t seed) {
  torch::manual_seed(seed);
  p.w.mutable_grad() = torch::randn({3, 4}, torch::kDouble);
  p.b.mutable_grad() = torch::randn({3}, torch::kDouble);
}

double maxDiff(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).abs().max().item<double>(); }
}  // namespace

MSSL_TEST(optim_lars_excludes_1d_closed_form) {
  Params p = makeParams(1);
  auto w0 = p.w.detach().clone(), b0 = p.b.detach().clone();
  mssl::OptimConfig cfg;
  cfg.name = "lars";
  cfg.lr = 0.3;
  cfg.momentum = 0.9;
  cfg.weightDecay = 1e-2;
  cfg.eta = 0.02;
  auto opt = mssl::makeOptimizer(cfg, p.list());
  CHECK(opt->param_groups().size() == 2);
  setGrads(p, 11);
  auto gw = p.w.grad().clone(), gb = p.b.grad().clone();
  opt->step();
  auto dw = gw + cfg.weightDecay * w0;
  double q = cfg.eta * w0.norm().item<double>() / dw.norm().item<double>();
  CHECK(maxDiff(p.w.detach(), w0 - cfg.lr * q * dw) < 1e-12);
  CHECK(maxDiff(p.b.detach(), b0 - cfg.lr * gb) < 1e-12);  // no decay, no trust ratio
  auto& lars = dynamic_cast<mssl::LARS&>(*opt);
  CHECK(maxDiff(lars.momentumBuffer(p.w), q * dw) < 1e-12);
  // Second step: buf ← μ·buf + d.
  auto w1 = p.w.detach().clone(), b1 = p.b.detach().clone();
  setGrads(p, 12);
  auto gw2 = p.w.grad().clone(), gb2 = p.b.grad().clone();
  opt->step();
  auto dw2 = gw2 + cfg.weightDecay * w1;
  double q2 = cfg.eta * w1.norm().item<double>() / dw2.norm().item<double>();
  auto bufW = cfg.momentum * q * dw + q2 * dw2;
  auto bufB = cfg.momentum * gb + gb2;
  CHECK(maxDiff(p.w.detach(), w1 - cfg.lr * bufW) < 1e-12);
  CHECK(maxDiff(p.b.detach(), b1 - cfg.lr * bufB) < 1e-12);
}

MSSL_TEST(optim_lars_without_exclusion_adapts_everything) {
  Params p = makeParams(2);
  auto b0 = p.b.detach().clone();
  mssl::OptimConfig cfg;
  cfg.name = "lars";
  cfg.lr = 0.1;
  cfg.weightDecay = 1e-3;
  cfg.excludeBiasAndNorm = false;
  auto opt = mssl::makeOptimizer(cfg, p.list());
  CHECK(opt->param_groups().size() == 1);
  setGrads(p, 21);
  auto gb = p.b.grad().clone();
  opt->step();
  auto db = gb + cfg.weightDecay * b0;
  double q = cfg.eta * b0.norm().item<double>() / db.norm().item<double>();
  CHECK(maxDiff(p.b.detach(), b0 - cfg.lr * q * db) < 1e-12);
  // A zero parameter (norm 0) takes the plain step: trust ratio 1.
  torch::Tensor z = torch::zeros({2, 2}, torch::kDouble).requires_grad_(true);
  mssl::LARS plain({z}, mssl::LARSOptions(0.5).momentum(0).weight_decay(0));
  z.mutable_grad() = torch::ones({2, 2}, torch::kDouble);
  plain.step();
  CHECK(maxDiff(z.detach(), torch::full({2, 2}, -0.5, torch::kDouble)) < 1e-15);
}

MSSL_TEST(optim_lars_state_save_load_round_trip) {
  Params p = makeParams(3);
  mssl::OptimConfig cfg;
  cfg.name = "lars";
  auto opt = mssl::makeOptimizer(cfg, p.list());
  for (int i = 0; i < 3; ++i) {
    setGrads(p, 30 + i);
    opt->step();
  }
  std::stringstream ss;
  torch::save(*opt, ss);
  Params r;
  r.w = p.w.detach().clone().requires_grad_(true);
  r.b = p.b.detach().clone().requires_grad_(true);
  auto opt2 = mssl::makeOptimizer(cfg, r.list());
  torch::load(*opt2, ss);
  auto& l1 = dynamic_cast<mssl::LARS&>(*opt);
  auto& l2 = dynamic_cast<mssl::LARS&>(*opt2);
  CHECK(l2.momentumBuffer(r.w).defined() && l2.momentumBuffer(r.b).defined());
  CHECK(torch::equal(l1.momentumBuffer(p.w), l2.momentumBuffer(r.w)));
  CHECK(torch::equal(l1.momentumBuffer(p.b), l2.momentumBuffer(r.b)));
  // The restored optimizer continues exactly like the original.
  setGrads(p, 40);
  setGrads(r, 40);
  opt->step();
  opt2->step();
  CHECK(torch::equal(p.w, r.w) && torch::equal(p.b, r.b));
}

MSSL_TEST(optim_sgd_nesterov_closed_form_and_matches_torch) {
  Params p = makeParams(4);
  auto w0 = p.w.detach().clone(), b0 = p.b.detach().clone();
  mssl::OptimConfig cfg;
  cfg.name = "sgd";
  cfg.lr = 0.1;
  cfg.momentum = 0.9;
  cfg.weightDecay = 1e-2;
  cfg.nesterov = true;
  auto opt = mssl::makeOptimizer(cfg, p.list());
  setGrads(p, 41);
  auto gw = p.w.grad().clone(), gb = p.b.grad().clone();
  opt->step();
  // Step 1: buf = d; update = d + μ·buf = (1+μ)·d.
  auto dw = gw + cfg.weightDecay * w0;
  CHECK(maxDiff(p.w.detach(), w0 - cfg.lr * (1 + cfg.momentum) * dw) < 1e-12);
  CHECK(maxDiff(p.b.detach(), b0 - cfg.lr * (1 + cfg.momentum) * gb) < 1e-12);
  // Without exclusion the factory is exactly torch::optim::SGD.
  Params a = makeParams(5), b = makeParams(5);
  cfg.excludeBiasAndNorm = false;
  auto mine = mssl::makeOptimizer(cfg, a.list());
  torch::optim::SGD ref(b.list(), torch::optim::SGDOptions(0.1).momentum(0.9).weight_decay(1e-2).nesterov(true));
  for (int i = 0; i < 4; ++i) {
    setGrads(a, 50 + i);
    setGrads(b, 50 + i);
    mine->step();
    ref.step();
  }
  CHECK(torch::equal(a.w, b.w) && torch::equal(a.b, b.b));
}

MSSL_TEST(optim_adamw_closed_form_and_matches_torch) {
  Params p = makeParams(6);
  auto w0 = p.w.detach().clone(), b0 = p.b.detach().clone();
  mssl::OptimConfig cfg;
  cfg.name = "adamw";
  cfg.lr = 1e-2;
  cfg.weightDecay = 0.05;
  auto opt = mssl::makeOptimizer(cfg, p.list());
  setGrads(p, 61);
  auto gw = p.w.grad().clone(), gb = p.b.grad().clone();
  opt->step();
  // First step: m̂ = g, v̂ = g², so p ← p·(1 − lr·λ) − lr·g/(|g| + ε); no λ for the bias.
  auto ew = w0 * (1 - cfg.lr * cfg.weightDecay) - cfg.lr * gw / (gw.abs() + cfg.eps);
  auto eb = b0 - cfg.lr * gb / (gb.abs() + cfg.eps);
  CHECK(maxDiff(p.w.detach(), ew) < 1e-12);
  CHECK(maxDiff(p.b.detach(), eb) < 1e-12);
  Params a = makeParams(7), b = makeParams(7);
  cfg.excludeBiasAndNorm = false;
  auto mine = mssl::makeOptimizer(cfg, a.list());
  torch::optim::AdamW ref(b.list(), torch::optim::AdamWOptions(1e-2).betas(std::make_tuple(0.9, 0.999)).eps(1e-8).weight_decay(0.05));
  for (int i = 0; i < 4; ++i) {
    setGrads(a, 70 + i);
    setGrads(b, 70 + i);
    mine->step();
    ref.step();
  }
  CHECK(torch::equal(a.w, b.w) && torch::equal(a.b, b.b));
}

MSSL_TEST(optim_set_learning_rate_and_empty_params) {
  Params p = makeParams(8);
  for (const char* name : {"sgd", "lars", "adamw"}) {
    mssl::OptimConfig cfg;
    cfg.name = name;
    auto opt = mssl::makeOptimizer(cfg, p.list());
    mssl::setLearningRate(*opt, 0.123);
    for (const auto& g : opt->param_groups()) CHECK(g.options().get_lr() == 0.123);
    CHECK(mssl::learningRate(*opt) == 0.123);
    CHECK(mssl_test::throwsAs<std::out_of_range>([&] { mssl::setLearningRate(*opt, -1); }));
    auto empty = mssl::makeOptimizer(cfg, {});
    empty->step();
    CHECK(mssl::learningRate(*empty) == 0);
  }
  // SGD and AdamW state round-trips too (built-ins, through the same factory).
  for (const char* name : {"sgd", "adamw"}) {
    Params a = makeParams(9);
    mssl::OptimConfig cfg;
    cfg.name = name;
    auto opt = mssl::makeOptimizer(cfg, a.list());
    setGrads(a, 90);
    opt->step();
    std::stringstream ss;
    torch::save(*opt, ss);
    Params b;
    b.w = a.w.detach().clone().requires_grad_(true);
    b.b = a.b.detach().clone().requires_grad_(true);
    auto opt2 = mssl::makeOptimizer(cfg, b.list());
    torch::load(*opt2, ss);
    setGrads(a, 91);
    setGrads(b, 91);
    opt->step();
    opt2->step();
    CHECK(torch::equal(a.w, b.w) && torch::equal(a.b, b.b));
  }
}

MSSL_TEST(optim_validation) {
  Params p = makeParams(10);
  auto make = [&](mssl::OptimConfig c) { return mssl::makeOptimizer(c, p.list()); };
  mssl::OptimConfig c;
  c.name = "adam";
  CHECK(mssl_test::throwsAs<std::invalid_argument>([&] { make(c); }));
  try {
    make(c);
  } catch (const std::invalid_argument& e) {
    CHECK(std::string(e.what()).find("'sgd', 'lars', 'adamw'") != std::string::npos);
  }
  c = {};
  c.momentum = 1.0;
  CHECK(mssl_test::throwsAs<std::out_of_range>([&] { make(c); }));
  c = {};
  c.lr = -1;
  CHECK(mssl_test::throwsAs<std::out_of_range>([&] { make(c); }));
  c = {};
  c.weightDecay = -1e-4;
  CHECK(mssl_test::throwsAs<std::out_of_range>([&] { make(c); }));
  c = {};
  c.name = "lars";
  c.nesterov = true;
  CHECK(mssl_test::throwsAs<std::invalid_argument>([&] { make(c); }));
  c = {};
  c.nesterov = true;
  c.momentum = 0;
  CHECK(mssl_test::throwsAs<std::out_of_range>([&] { make(c); }));
  c = {};
  c.name = "lars";
  c.eta = 0;
  CHECK(mssl_test::throwsAs<std::out_of_range>([&] { make(c); }));
  c = {};
  c.name = "adamw";
  c.beta2 = 1.0;
  CHECK(mssl_test::throwsAs<std::out_of_range>([&] { make(c); }));
  c = {};
  c.name = "adamw";
  c.eps = 0;
  CHECK(mssl_test::throwsAs<std::out_of_range>([&] { make(c); }));
  CHECK(mssl_test::throwsAs<std::invalid_argument>([&] { mssl::makeOptimizer({}, {torch::Tensor()}); }));
}
