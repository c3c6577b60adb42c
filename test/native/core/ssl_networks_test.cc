#include <cstdio>

#include "check.h"
#include "core/ssl_networks.h"

using namespace mssl;

namespace {

SslNetworksConfig tinyModel(std::vector<std::string> ema) {
  SslNetworksConfig c;
  c.backbone.width = 0.25;
  c.backbone.inChannels = 3;
  c.projectorHidden = 16;
  c.projectorOut = 8;
  c.emaParts = std::move(ema);
  return c;
}

double maxDiff(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).abs().max().item<double>(); }

// Perturbs every online parameter as an optimizer step would.
void perturb(SslNetworks& m, double scale) {
  torch::NoGradGuard g;
  for (auto& p : m.trainableParameters()) p.add_(torch::randn_like(p) * scale);
}

}  // namespace

MSSL_TEST(ssl_part_names_and_validation) {
  CHECK(sslPartNames().size() == 6);
  CHECK(sslPartIndex("projector") == 5);
  CHECK_THROWS(sslPartIndex("layer5"));
  SslNetworksConfig c = tinyModel({"stem", "stem"});
  CHECK_THROWS(c.validate());
}

MSSL_TEST(ssl_projector_only_ema_matches_reference_and_key_branch) {
  torch::manual_seed(1);
  SslNetworks m(tinyModel({"projector"}));
  CHECK(m.firstEmaPart() == kProjectorPart);
  CHECK(m.emaBackbone().is_empty());  // no second backbone for projector-only momentum
  std::vector<torch::Tensor> expected;
  for (auto& p : m.emaProjector()->parameters()) expected.push_back(p.detach().clone());
  for (int t = 0; t < 5; ++t) {
    perturb(m, 0.01);
    const double mom = 0.9 + 0.01 * t;
    auto online = m.projector()->parameters();
    for (size_t i = 0; i < expected.size(); ++i) expected[i] = mom * expected[i] + (1 - mom) * online[i].detach();
    m.updateEma(mom);
  }
  auto ema = m.emaProjector()->parameters();
  for (size_t i = 0; i < expected.size(); ++i) CHECK_CLOSE(maxDiff(ema[i], expected[i]), 0.0, 1e-6);

  torch::Tensor x = torch::randn({4, 3, 16, 16});
  ViewForward v = m.forwardOnline(x);
  torch::Tensor k = m.forwardKey(v);
  torch::Tensor ref;
  {
    torch::NoGradGuard g;
    ref = m.emaProjector()->forward(v.features.detach());
  }
  CHECK_CLOSE(maxDiff(k, ref), 0.0, 1e-6);
  CHECK(!k.requires_grad());
  auto key = m.keyForwardCounts();
  CHECK(key[0] == 0 && key[4] == 0 && key[5] == 1);
}

MSSL_TEST(ssl_last_k_key_branch_reuses_online_prefix) {
  torch::manual_seed(2);
  SslNetworks m(tinyModel({"layer3", "layer4", "projector"}));
  perturb(m, 0.05);  // online and EMA now differ
  torch::Tensor x = torch::randn({4, 3, 16, 16});
  ViewForward v = m.forwardOnline(x);
  torch::Tensor k = m.forwardKey(v);
  torch::Tensor ref;
  // layer2 is not an EMA part: the key branch must run the ONLINE layer2 on the online layer1
  // output, then EMA layer3, layer4 and the EMA projector.
  {
    torch::NoGradGuard g;
    RunningStatsFreeze freeze({m.backbone().ptr()});
    torch::Tensor h = m.backbone()->forwardPart(2, v.partOut[1].detach());
    h = m.emaBackbone()->forwardPart(3, h);
    h = m.emaBackbone()->forwardPart(4, h);
    ref = m.emaProjector()->forward(m.emaBackbone()->pool(h));
  }
  CHECK_CLOSE(maxDiff(k, ref), 0.0, 1e-6);
  CHECK(m.firstEmaPart() == 3);
  auto key = m.keyForwardCounts();
  CHECK(key[0] == 0 && key[1] == 0 && key[2] == 0 && key[3] == 1 && key[4] == 1 && key[5] == 1);
}

MSSL_TEST(ssl_first_k_key_branch_runs_whole_network_and_keeps_online_bn_stats) {
  torch::manual_seed(3);
  SslNetworks m(tinyModel({"stem", "layer1"}));
  torch::Tensor x = torch::randn({4, 3, 16, 16});
  ViewForward v = m.forwardOnline(x);
  std::vector<torch::Tensor> before;
  for (auto& b : m.backbone()->named_buffers()) before.push_back(b.value().clone());
  m.forwardKey(v);
  size_t i = 0;
  for (auto& b : m.backbone()->named_buffers()) CHECK_CLOSE(maxDiff(b.value().to(torch::kDouble), before[i++].to(torch::kDouble)), 0.0, 0.0);
  auto key = m.keyForwardCounts();
  for (int b = 0; b < kNumParts; ++b) CHECK(key[b] == 1);
}

MSSL_TEST(ssl_no_ema_keys_are_detached_online_embeddings) {
  SslNetworks m(tinyModel({}));
  CHECK(!m.anyEma());
  ViewForward v = m.forwardOnline(torch::randn({4, 3, 16, 16}));
  torch::Tensor k = m.forwardKey(v);
  CHECK_CLOSE(maxDiff(k, v.z), 0.0, 0.0);
  CHECK(!k.requires_grad());
}
