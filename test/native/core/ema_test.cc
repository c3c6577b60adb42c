// Fused EMA (design §2): equality with the per-parameter reference, dtypes, optimizers over
// re-pointed parameters, rebind after .to()/load, validation.
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <stdexcept>

#include "check.h"
#include "core/ema.h"
#include "core/optim.h"

namespace {


std::vector<torch::Tensor> randomSet(const std::vector<std::vector<int64_t>>& shapes, torch::ScalarType dtype = torch::kFloat,
                                     torch::Device device = torch::kCPU) {
  std::vector<torch::Tensor> out;
  for (const auto& s : shapes) out.push_back(torch::randn(s).to(device, dtype));
  return out;
}

std::vector<torch::Tensor> clones(const std::vector<torch::Tensor>& ts, c10::optional<torch::ScalarType> dtype = c10::nullopt) {
  std::vector<torch::Tensor> out;
  for (const auto& t : ts) out.push_back(dtype ? t.to(*dtype).clone() : t.clone());
  return out;
}

// max |a − b| / max |b| over one tensor (0 for empty tensors).
double relErr(const torch::Tensor& a, const torch::Tensor& b) {
  if (b.numel() == 0) return 0;
  auto bd = b.to(torch::kDouble), ad = a.to(torch::kDouble);
  double den = std::max(bd.abs().max().item<double>(), 1e-30);
  return (ad - bd).abs().max().item<double>() / den;
}

double maxRelErr(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  double e = 0;
  for (size_t i = 0; i < a.size(); ++i) e = std::max(e, relErr(a[i], b[i]));
  return e;
}

// 100 updates with varying m (including the ends 0 and 1) while the online tensors drift, fused
// against the per-parameter reference.
void checkFusedMatchesReference(const std::vector<std::vector<int64_t>>& shapes, torch::ScalarType onlineDtype,
                                torch::Device device = torch::kCPU) {
  torch::manual_seed(7);
  auto onlineA = randomSet(shapes, onlineDtype, device);
  auto onlineB = clones(onlineA);
  auto emaA = clones(onlineA);  // handed to FusedEma in the online dtype: it must become fp32
  auto emaB = clones(onlineA, mssl::emaDtypeFor(onlineDtype));
  for (size_t i = 0; i < emaA.size(); ++i) {
    auto noise = torch::randn(emaA[i].sizes()).to(device);
    emaA[i].add_(noise.to(emaA[i].scalar_type()));
    emaB[i].copy_(emaA[i]);
  }
  mssl::FusedEma fused(onlineA, emaA);
  CHECK(fused.isFlat());
  for (const auto& e : emaA) CHECK(e.scalar_type() == mssl::emaDtypeFor(onlineDtype));
  int64_t total = 0;
  for (const auto& t : onlineA) total += t.numel();
  CHECK(fused.numel() == total);
  CHECK(fused.ema().numel() == total);
  for (int k = 0; k < 100; ++k) {
    double m = k == 0 ? 0.0 : (k == 1 ? 1.0 : 0.5 + 0.49 * std::sin(0.37 * k));
    for (size_t i = 0; i < onlineA.size(); ++i) {
      auto d = (0.05 * torch::randn(onlineA[i].sizes())).to(device, onlineDtype);
      onlineA[i].add_(d);
      onlineB[i].add_(d);
    }
    fused.update(m);
    mssl::emaUpdateReference(onlineB, emaB, m);
  }
  CHECK(fused.isFlat());
  double err = maxRelErr(emaA, emaB);
  if (!(err <= 1e-6)) throw mssl_test::Failure("fused vs reference relative error " + std::to_string(err));
  CHECK(maxRelErr(onlineA, onlineB) == 0);
}

const std::vector<std::vector<int64_t>> kMixedShapes = {{64, 3, 3, 3}, {64}, {64}, {}, {0}, {128, 64}, {7}, {3, 5, 7}, {1}, {1000}};

}  // namespace

MSSL_TEST(ema_fused_matches_reference_empty) {
  checkFusedMatchesReference({}, torch::kFloat);
  mssl::FusedEma e({}, {});
  CHECK(e.numel() == 0);
  CHECK(e.online().numGroups() == 0);
  e.update(0.5);
  e.copyOnlineToEma();
}

MSSL_TEST(ema_fused_matches_reference_one_tensor) { checkFusedMatchesReference({{33, 17}}, torch::kFloat); }

MSSL_TEST(ema_fused_matches_reference_many_tensors) {
  checkFusedMatchesReference(kMixedShapes, torch::kFloat);
  checkFusedMatchesReference(kMixedShapes, torch::kDouble);
  // Large enough that at::parallel_for splits it.
  checkFusedMatchesReference({{512, 256, 3}, {300001}, {5}}, torch::kFloat);
}

// Every fp32 kernel this CPU can run (AVX-512, AVX2+FMA, baseline): vector bodies, tails shorter
// than one unrolled iteration, ranges split across threads at ATen's grain.
MSSL_TEST(ema_every_cpu_kernel_matches_reference) {
  const std::string chosen = mssl::emaKernelIsa();
  CHECK(chosen == "avx512" || chosen == "avx2" || chosen == "baseline");
  int ran = 0;
  for (const char* isa : {"avx512", "avx2", "baseline"}) {
    try {
      mssl::setEmaKernelIsa(isa);
    } catch (const std::invalid_argument&) {
      continue;  // not on this CPU
    }
    ++ran;
    CHECK(std::string(mssl::emaKernelIsa()) == isa);
    checkFusedMatchesReference({{31}, {32}, {33}, {95}, {65536 + 17}, {3, 5, 7}}, torch::kFloat);
    checkFusedMatchesReference({{300001}, {1}}, torch::kFloat);
  }
  mssl::setEmaKernelIsa("auto");
  CHECK(std::string(mssl::emaKernelIsa()) == chosen);
  CHECK(ran >= 1);
  CHECK(mssl_test::throwsAs<std::invalid_argument>([] { mssl::setEmaKernelIsa("sse9"); }, "isa must be"));
}

MSSL_TEST(ema_fp16_and_bf16_online_keep_fp32_ema) {
  checkFusedMatchesReference(kMixedShapes, torch::kHalf);
  checkFusedMatchesReference(kMixedShapes, torch::kBFloat16);
  auto online = randomSet({{4, 4}, {4}}, torch::kHalf);
  auto ema = clones(online);
  mssl::FusedEma f(online, ema);
  CHECK(f.online().group(0).scalar_type() == torch::kHalf);
  CHECK(f.ema().group(0).scalar_type() == torch::kFloat);
  CHECK(ema[0].scalar_type() == torch::kFloat && ema[1].scalar_type() == torch::kFloat);
}

// The CUDA kernel (native/core/ema.cu) against the same reference; skipped without a GPU.
MSSL_TEST(ema_cuda_fused_matches_reference) {
  if (!torch::cuda::is_available()) {
    std::cout << "  (no CUDA device: skipped)\n";
    return;
  }
  torch::Device cuda(torch::kCUDA, 0);
  for (auto dt : {torch::kFloat, torch::kHalf, torch::kBFloat16, torch::kDouble}) {
    checkFusedMatchesReference(kMixedShapes, dt, cuda);
    checkFusedMatchesReference({{512, 256, 3}, {300001}, {5}}, dt, cuda);
  }
  // Mixed devices: one group per (device, dtype).
  std::vector<torch::Tensor> online = {torch::randn({4, 4}), torch::randn({7}, cuda), torch::randn({3}, cuda).to(torch::kHalf)};
  std::vector<torch::Tensor> ema = clones(online);
  mssl::FusedEma f(online, ema);
  CHECK(f.online().numGroups() == 3);
  CHECK(ema[1].is_cuda() && ema[2].is_cuda() && ema[2].scalar_type() == torch::kFloat);
}

MSSL_TEST(ema_flat_params_groups_and_views) {
  std::vector<torch::Tensor> ps = {torch::randn({3, 4}), torch::randn({5}, torch::kDouble), torch::randn({2, 2}),
                                   torch::randn({6}).to(torch::kHalf)};
  std::vector<torch::Tensor> before = clones(ps);
  auto* impl0 = ps[0].unsafeGetTensorImpl();
  mssl::FlatParams fp(ps);
  CHECK(fp.isFlat());
  CHECK(fp.numGroups() == 3);
  CHECK(fp.numel() == 12 + 5 + 4 + 6);
  CHECK(fp.group(0).numel() == 16 && fp.group(0).scalar_type() == torch::kFloat);
  CHECK(fp.group(1).scalar_type() == torch::kDouble && fp.group(2).scalar_type() == torch::kHalf);
  CHECK(ps[0].unsafeGetTensorImpl() == impl0);  // same tensor object, new data
  for (size_t i = 0; i < ps.size(); ++i) CHECK(torch::equal(ps[i], before[i]));
  // Writes through the buffer are seen by the tensors and vice versa.
  fp.group(0).fill_(2.0);
  CHECK(ps[2].eq(2.0).all().item<bool>());
  ps[0].zero_();
  CHECK(fp.group(0).narrow(0, 0, 12).eq(0).all().item<bool>());
  CHECK(fp.group(0).narrow(0, 12, 4).eq(2).all().item<bool>());
  CHECK(fp.offsetOf(2) == 12 && fp.groupOf(2) == 0);
  CHECK(mssl_test::throwsAs<std::out_of_range>([&] { fp.group(3); }));
}

MSSL_TEST(ema_optimizer_trains_flattened_params) {
  torch::manual_seed(3);
  torch::nn::Sequential a(torch::nn::Linear(4, 8), torch::nn::ReLU(), torch::nn::Linear(8, 3));
  auto b = std::dynamic_pointer_cast<torch::nn::SequentialImpl>(a->clone());
  CHECK(b != nullptr);
  auto emaOfA = clones(a->parameters());
  auto emaOfB = clones(b->parameters());
  mssl::FusedEma ema(a->parameters(), emaOfA);
  const mssl::FlatParams& flat = ema.online();
  CHECK(flat.isFlat() && ema.isFlat() && flat.numGroups() == 1);
  for (const char* name : {"sgd", "lars", "adamw"}) {
    mssl::OptimConfig cfg;
    cfg.name = name;
    cfg.lr = 0.1;
    cfg.nesterov = std::string(name) == "sgd";
    auto optA = mssl::makeOptimizer(cfg, a->parameters());
    auto optB = mssl::makeOptimizer(cfg, b->parameters());
    auto train = [](torch::nn::SequentialImpl& net, torch::optim::Optimizer& opt, const torch::Tensor& x, const torch::Tensor& y) {
      opt.zero_grad();
      torch::mse_loss(net.forward(x), y).backward();
      opt.step();
    };
    for (int step = 0; step < 5; ++step) {
      auto x = torch::randn({16, 4});
      auto y = torch::randn({16, 3});
      train(*a, *optA, x, y);
      train(*b, *optB, x, y);
      for (const auto& p : a->parameters()) CHECK(p.grad().defined() && p.grad().sizes() == p.sizes());
      ema.update(0.9);
      mssl::emaUpdateReference(b->parameters(), emaOfB, 0.9);
    }
    CHECK(flat.isFlat() && ema.isFlat());
    auto pa = a->parameters(), pb = b->parameters();
    CHECK(maxRelErr(pa, pb) <= 1e-6);
    CHECK(maxRelErr(emaOfA, emaOfB) <= 1e-6);
    // The flat buffer is the concatenation of the trained parameters.
    std::vector<torch::Tensor> flatB;
    for (const auto& p : pb) flatB.push_back(p.reshape({-1}));
    CHECK(relErr(flat.group(0), torch::cat(flatB)) <= 1e-6);
  }
}

MSSL_TEST(ema_rebind_after_to_double) {
  torch::manual_seed(5);
  torch::nn::Sequential net(torch::nn::Linear(3, 5), torch::nn::BatchNorm1d(5), torch::nn::Linear(5, 2));
  auto emaParams = clones(net->parameters());
  mssl::FusedEma ema(net->parameters(), emaParams);
  ema.copyOnlineToEma();
  auto onlineBefore = clones(net->parameters());
  net->to(torch::kDouble);
  CHECK(!ema.isFlat());
  CHECK(!ema.online().isFlat());
  ema.rebind();
  CHECK(ema.isFlat());
  CHECK(ema.online().group(0).scalar_type() == torch::kDouble);
  CHECK(ema.ema().group(0).scalar_type() == torch::kDouble);  // EMA never below the online precision
  auto p = net->parameters();
  for (size_t i = 0; i < p.size(); ++i) CHECK(relErr(p[i], onlineBefore[i]) == 0);
  // update() rebinds by itself too: move back to float and update straight away.
  net->to(torch::kFloat);
  auto emaRef = clones(emaParams, torch::kFloat);
  ema.update(0.8);
  CHECK(ema.isFlat());
  CHECK(ema.ema().group(0).scalar_type() == torch::kFloat);
  mssl::emaUpdateReference(net->parameters(), emaRef, 0.8);
  CHECK(maxRelErr(emaParams, emaRef) <= 1e-6);
  // FlatParams alone.
  std::vector<torch::Tensor> ts = {torch::randn({2, 3}), torch::randn({4})};
  mssl::FlatParams fp(ts);
  torch::NoGradGuard ng;
  ts[1].set_data(ts[1].to(torch::kDouble));
  CHECK(!fp.isFlat());
  auto v1 = ts[1].clone();
  fp.rebind();
  CHECK(fp.isFlat() && fp.numGroups() == 2 && torch::equal(ts[1], v1));
}

MSSL_TEST(ema_rebind_after_load) {
  torch::manual_seed(9);
  torch::nn::Sequential net(torch::nn::Linear(6, 4), torch::nn::Linear(4, 2));
  torch::nn::Sequential other(torch::nn::Linear(6, 4), torch::nn::Linear(4, 2));
  auto emaParams = clones(net->parameters());
  mssl::FusedEma ema(net->parameters(), emaParams);
  // Copy-loading keeps the parameters in the buffer.
  {
    torch::NoGradGuard ng;
    auto src = other->parameters();
    auto dst = net->parameters();
    for (size_t i = 0; i < dst.size(); ++i) dst[i].copy_(src[i]);
  }
  CHECK(ema.isFlat());
  CHECK(relErr(ema.online().group(0).narrow(0, 0, 24), other->parameters()[0].reshape({-1})) == 0);
  // torch::load re-points parameters at the loaded tensors: rebind brings them back.
  std::stringstream ss;
  torch::save(other, ss);
  torch::load(net, ss);
  CHECK(!ema.online().isFlat());
  ema.rebind();
  CHECK(ema.isFlat());
  auto p = net->parameters(), q = other->parameters();
  for (size_t i = 0; i < p.size(); ++i) CHECK(torch::equal(p[i], q[i]));
  // EMA side loaded from a checkpoint too.
  {
    torch::NoGradGuard ng;
    emaParams[0].set_data(torch::full_like(emaParams[0], 0.25));
  }
  CHECK(!ema.isFlat());
  ema.update(1.0);  // m = 1 keeps the EMA: the loaded value must survive the rebind
  CHECK(ema.isFlat() && emaParams[0].eq(0.25).all().item<bool>());
}

MSSL_TEST(ema_copy_online_to_ema) {
  auto online = randomSet({{3, 3}, {3}}, torch::kHalf);
  auto ema = randomSet({{3, 3}, {3}});
  mssl::FusedEma f(online, ema);
  f.copyOnlineToEma();
  for (size_t i = 0; i < online.size(); ++i) CHECK(torch::equal(ema[i], online[i].to(torch::kFloat)));
  f.update(0.0);  // m = 0: EMA becomes the online weights exactly
  for (size_t i = 0; i < online.size(); ++i) CHECK(torch::equal(ema[i], online[i].to(torch::kFloat)));
}

MSSL_TEST(ema_validation) {
  auto o = randomSet({{2, 2}, {3}});
  CHECK(mssl_test::throwsAs<std::invalid_argument>([&] { (void)mssl::FusedEma(o, randomSet({{2, 2}})); }));
  CHECK(mssl_test::throwsAs<std::invalid_argument>([&] { (void)mssl::FusedEma(o, randomSet({{2, 2}, {4}})); }));
  CHECK(mssl_test::throwsAs<std::invalid_argument>([&] { (void)mssl::FusedEma(o, {o[0].clone(), o[0]}); }));
  CHECK(mssl_test::throwsAs<std::invalid_argument>([&] { (void)mssl::FusedEma(o, {torch::Tensor(), o[1].clone()}); }));
  CHECK(mssl_test::throwsAs<std::invalid_argument>([&] { (void)mssl::FusedEma({torch::ones({2}, torch::kLong)}, {torch::ones({2})}); }));
  CHECK(mssl_test::throwsAs<std::invalid_argument>([&] { (void)mssl::FlatParams({o[0], o[0]}); }));
  mssl::FusedEma f(o, clones(o));
  CHECK(mssl_test::throwsAs<std::out_of_range>([&] { f.update(1.5); }));
  CHECK(mssl_test::throwsAs<std::out_of_range>([&] { f.update(-0.1); }));
  CHECK(mssl_test::throwsAs<std::out_of_range>([&] { f.update(std::nan("")); }));
  CHECK(mssl_test::throwsAs<std::out_of_range>([&] { mssl::emaUpdateReference(o, clones(o), 2.0); }));
  try {
    f.update(3);
  } catch (const std::out_of_range& e) {
    CHECK(std::string(e.what()).find("m (momentum) must be in [0, 1]") != std::string::npos);
  }
}
