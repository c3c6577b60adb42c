// One training step per EMA configuration on the test device (CUDA when available, else CPU;
// MSSL_DEVICE overrides), checking the fused EMA inside the step against the per-parameter
// formula; and, with MSSL_BENCH=1, the EMA's GB/s against a device copy's. scripts/dev/cuda-check.sh
// runs these on a GPU machine (and on the CPU here).
#include <torch/torch.h>

#include <chrono>
#include <cstdlib>
#include <iostream>

#include "check.h"
#include "core/ema.h"
#include "core/step_runner.h"

using namespace mssl;

namespace {

std::string testDevice() {
  if (const char* d = std::getenv("MSSL_DEVICE")) return d;
  return torch::cuda::is_available() ? "cuda" : "cpu";
}

std::vector<torch::Tensor> detachedCopies(const std::vector<torch::Tensor>& ts) {
  std::vector<torch::Tensor> out;
  for (const auto& t : ts) out.push_back(t.detach().clone());
  return out;
}

}  // namespace

MSSL_TEST(device_step_per_ema_configuration) {
  const std::string device = testDevice();
  std::cout << "  (device " << device << ")\n";
  const std::vector<std::vector<std::string>> configs = {
      {}, {"projector"}, {"stem", "layer1", "layer2", "layer3", "layer4", "projector"}, {"layer4", "projector"}, {"stem", "layer1"}};
  torch::manual_seed(0);
  torch::Tensor data = torch::randint(0, 256, {16, 3, 16, 16}, torch::kByte);
  for (const auto& parts : configs) {
    for (bool channelsLast : {false, true}) {
      SslModelConfig mc;
      mc.backbone.width = 0.25;
      mc.projectorHidden = 32;
      mc.projectorOut = 16;
      mc.emaParts = parts;
      StepConfig sc;
      sc.augment.outSize = 16;
      sc.totalSteps = 10;
      sc.lr = 0.05;
      sc.momentumBase = 0.9;
      sc.device = device;
      sc.channelsLast = channelsLast;
      StepRunner r(mc, sc);
      // EMA pairs (online, ema) of the configured parts, and the EMA values before the step.
      std::vector<torch::Tensor> online, ema;
      for (const auto& p : parts) {
        const int b = sslPartIndex(p);
        auto on = b == kProjectorPart ? r.model().projector()->parameters() : r.model().backbone()->partParameters(b);
        auto em = b == kProjectorPart ? r.model().emaProjector()->parameters() : r.model().emaBackbone()->partParameters(b);
        online.insert(online.end(), on.begin(), on.end());
        ema.insert(ema.end(), em.begin(), em.end());
      }
      std::vector<torch::Tensor> before = detachedCopies(ema);
      const StepResult s = r.step(data, torch::Tensor());
      CHECK(std::isfinite(s.loss));
      CHECK(r.model().device().str().rfind(device.substr(0, 4), 0) == 0);
      // The step's fused update equals e ← m·e + (1−m)·θ per parameter, θ after the optimizer step.
      std::vector<torch::Tensor> expected = before;
      if (!online.empty()) emaUpdateReference(online, expected, s.momentum);
      for (size_t i = 0; i < ema.size(); ++i) {
        const double den = std::max(expected[i].abs().max().item<double>(), 1e-12);
        CHECK((ema[i] - expected[i]).abs().max().item<double>() / den < 1e-5);
      }
      CHECK(online.empty() || s.momentum < 1.0);
    }
  }
}

MSSL_TEST(device_ema_bandwidth_vs_copy) {
  const char* on = std::getenv("MSSL_BENCH");
  if (!on || std::string(on) != "1") return;
  const torch::Device device(testDevice());
  const int64_t n = 11505856;  // ResNet-18 + projector
  torch::Tensor o = torch::randn({n}, torch::TensorOptions().device(device)), e = torch::randn({n}, torch::TensorOptions().device(device));
  torch::Tensor dst = torch::empty_like(o);
  auto sync = [&] {
    if (device.is_cuda()) torch::cuda::synchronize();
  };
  auto time = [&](auto&& fn) {
    for (int i = 0; i < 3; ++i) fn();
    sync();
    const int iters = device.is_cuda() ? 200 : 20;
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < iters; ++i) fn();
    sync();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / iters;
  };
  const double tEma = time([&] { emaLerpFlat(o, e, 0.01); });
  const double tCopy = time([&] { dst.copy_(o); });
  const double tAdd = time([&] { e.add_(o); });
  const double gbEma = 12.0 * n / tEma / 1e9, gbCopy = 8.0 * n / tCopy / 1e9, gbAdd = 12.0 * n / tAdd / 1e9;
  std::cout << "  device " << device << ": fused EMA " << gbEma << " GB/s (12 B/param), copy " << gbCopy << " GB/s (8 B/elem), a+=b "
            << gbAdd << " GB/s; EMA/copy " << 100.0 * gbEma / gbCopy << " %, EMA/a+=b " << 100.0 * gbEma / gbAdd << " %\n";
  CHECK(gbEma > 0 && gbCopy > 0);
}
