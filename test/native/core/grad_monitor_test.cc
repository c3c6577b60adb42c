// The per-block gradient monitor (design §5): block names from the ResNet depth and projector,
// per-block ‖∂L/∂h_k‖² against torch::autograd::grad on the block outputs of a tiny model, the
// part statistic as its last block's, and the step/probe results with the monitor on and off.
#include <cmath>
#include <string>
#include <vector>

#include "check.h"
#include "core/grad_monitor.h"
#include "core/ssl_model.h"

using namespace mssl;

namespace {

SslNetworksConfig tinyNetworks(int depth, int64_t prototypes) {
  SslNetworksConfig c;
  c.backbone.depth = depth;
  c.backbone.width = 0.125;
  c.projectorHidden = 32;
  c.projectorOut = 16;
  c.prototypes = prototypes;
  return c;
}

}  // namespace

MSSL_TEST(grad_monitor_block_names_follow_depth_and_projector) {
  SslNetworks r18(tinyNetworks(18, 0));
  const std::vector<std::string> want = {"stem",     "layer1.0", "layer1.1", "layer2.0",    "layer2.1",   "layer3.0",
                                         "layer3.1", "layer4.0", "layer4.1", "projector.0", "projector.1"};
  CHECK(r18.gradBlockNames() == want);
  const std::vector<int> parts = {0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5};
  CHECK(r18.gradBlockParts() == parts);
  // ResNet-34: 3-4-6-3 residual blocks; DINO's prototype layer is a third projector stage.
  SslNetworks r34(tinyNetworks(34, 8));
  const auto names = r34.gradBlockNames();
  CHECK(names.size() == 1 + 3 + 4 + 6 + 3 + 3);
  CHECK(names[3] == "layer1.2" && names[4] == "layer2.0" && names[16] == "layer4.2" && names.back() == "projector.2");
}

MSSL_TEST(grad_monitor_block_norms_match_autograd) {
  torch::manual_seed(5);
  SslNetworks net(tinyNetworks(18, 0));
  net.train(true);
  GradMonitor monitor;
  monitor.setBlocks(net.gradBlockParts());
  const int nb = monitor.numBlocks();
  torch::Tensor x1 = torch::randn({6, 3, 12, 12}), x2 = torch::randn({6, 3, 12, 12});
  ViewForward v1 = net.forwardOnline(x1, true), v2 = net.forwardOnline(x2, true);
  CHECK(static_cast<int>(v1.blockOut.size()) == nb);
  // The last block of each part is the part's output tensor itself.
  CHECK(v1.blockOut[2].is_same(v1.partOut[1]) && v1.blockOut[8].is_same(v1.partOut[4]) && v1.blockOut[10].is_same(v1.z));
  // A loss with gradients of different sizes in every block: cosine similarity plus a square.
  torch::Tensor w = torch::randn({16});
  torch::Tensor loss = -torch::cosine_similarity(v1.z, v2.z, 1).mean() + 0.1 * (v1.z * w).pow(2).sum();

  // Reference before the hooks exist (autograd::grad would fire them too).
  std::vector<torch::Tensor> outs = v1.blockOut;
  outs.insert(outs.end(), v2.blockOut.begin(), v2.blockOut.end());
  std::vector<torch::Tensor> ref = torch::autograd::grad({loss}, outs, {}, /*retain_graph=*/true);

  monitor.attach(v1);
  monitor.attach(v2);
  loss.backward();
  BlockGradStats blocks;
  PartStats rms = monitor.takeRms(&blocks);
  CHECK(static_cast<int>(blocks.sumsq.size()) == nb && static_cast<int>(blocks.numel.size()) == nb);
  for (int k = 0; k < nb; ++k) {
    const double want = ref[k].to(torch::kDouble).pow(2).sum().item<double>() + ref[nb + k].to(torch::kDouble).pow(2).sum().item<double>();
    CHECK(want > 0);
    CHECK_CLOSE(blocks.sumsq[k] / want, 1.0, 1e-5);
    CHECK(blocks.numel[k] == v1.blockOut[k].numel() + v2.blockOut[k].numel());
  }
  // Part rms = its output's (= last block's) ‖g‖ / sqrt(numel), over both views.
  const int last[kNumParts] = {0, 2, 4, 6, 8, 10};
  for (int b = 0; b < kNumParts; ++b) {
    CHECK_CLOSE(rms[b] / std::sqrt(blocks.sumsq[last[b]] / static_cast<double>(blocks.numel[last[b]])), 1.0, 1e-12);
  }
  // Taken: the next take without a backward reports nothing.
  BlockGradStats again;
  PartStats none = monitor.takeRms(&again);
  CHECK(std::isnan(none[0]) && std::isnan(again.sumsq[0]) && again.numel[0] == 0);
  ViewForward noBlocks;
  CHECK_THROWS(monitor.attach(noBlocks));
}

MSSL_TEST(grad_monitor_step_and_probe_report_blocks) {
  SslConfig c;
  c.networks = tinyNetworks(18, 0);
  c.networks.emaParts = {"projector"};
  c.augment.outSize = 12;
  c.totalSteps = 4;
  c.seed = 2;
  torch::manual_seed(9);
  torch::Tensor batch = torch::randint(0, 255, {8, 3, 12, 12}, torch::kLong).to(torch::kByte);
  {
    SslModel off(c);
    StepResult r = off.step(batch, torch::Tensor());
    CHECK(r.gradBlocks.sumsq.empty() && std::isnan(r.gradRms[0]));
  }
  c.gradMonitor = true;
  SslModel on(c);
  StepResult r = on.step(batch, torch::Tensor());
  CHECK(r.gradBlocks.sumsq.size() == 11);
  for (int k = 0; k < 11; ++k) CHECK(std::isfinite(r.gradBlocks.sumsq[k]) && r.gradBlocks.sumsq[k] > 0);
  CHECK_CLOSE(r.gradRms[kProjectorPart], std::sqrt(r.gradBlocks.sumsq[10] / static_cast<double>(r.gradBlocks.numel[10])), 1e-9);

  ProbeResult p1 = on.probe(batch);
  CHECK(p1.blockRms.size() == 11 && p1.blockCosine.size() == 11 && std::isnan(p1.blockCosine[3]));
  // The probe's last block of a part is the part: same rms.
  CHECK_CLOSE(p1.blockRms[4] / p1.rms[2], 1.0, 1e-9);
  ProbeResult p2 = on.probe(batch);
  // Nothing changed between the probes: the same direction.
  for (int k = 0; k < 11; ++k) CHECK_CLOSE(p2.blockCosine[k], 1.0, 1e-6);
  on.step(batch, torch::Tensor());
  ProbeResult p3 = on.probe(batch);
  for (int k = 0; k < 11; ++k) CHECK(p3.blockCosine[k] < 1.0 - 1e-9 && p3.blockCosine[k] > -1.0);
}
