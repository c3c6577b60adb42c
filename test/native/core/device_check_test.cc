// One training step per EMA configuration on the test device (CUDA when available, else CPU;
// MSSL_DEVICE overrides), checking the fused EMA inside the step against the per-parameter
// formula. scripts/dev/cuda-check.sh runs it on a GPU machine (and on the CPU here), with the
// bandwidth measurement of scripts/dev/ema_bandwidth.cc beside it.
#include <torch/torch.h>

#include <cstdlib>
#include <iostream>

#include "check.h"
#include "core/ema.h"
#include "core/ssl_model.h"

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
      SslConfig sc;
      sc.networks.backbone.width = 0.25;
      sc.networks.projectorHidden = 32;
      sc.networks.projectorOut = 16;
      sc.networks.emaParts = parts;
      sc.augment.outSize = 16;
      sc.totalSteps = 10;
      sc.lr = 0.05;
      sc.momentumBase = 0.9;
      sc.device = device;
      sc.channelsLast = channelsLast;
      SslModel r(sc);
      // EMA pairs (online, ema) of the configured parts, and the EMA values before the step.
      std::vector<torch::Tensor> online, ema;
      for (const auto& p : parts) {
        const int b = sslPartIndex(p);
        auto on = b == kProjectorPart ? r.networks().projector()->parameters() : r.networks().backbone()->partParameters(b);
        auto em = b == kProjectorPart ? r.networks().emaProjector()->parameters() : r.networks().emaBackbone()->partParameters(b);
        online.insert(online.end(), on.begin(), on.end());
        ema.insert(ema.end(), em.begin(), em.end());
      }
      std::vector<torch::Tensor> before = detachedCopies(ema);
      const StepResult s = r.step(data, torch::Tensor());
      CHECK(std::isfinite(s.loss));
      CHECK(r.networks().device().str().rfind(device.substr(0, 4), 0) == 0);
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
