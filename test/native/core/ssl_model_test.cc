#include <cstdio>

#include "check.h"
#include "core/checkpoint.h"
#include "core/ssl_model.h"
#include "core/step_runner.h"

using namespace mssl;

namespace {

SslModelConfig tinyModel(std::vector<std::string> ema) {
  SslModelConfig c;
  c.backbone.width = 0.25;
  c.backbone.inChannels = 3;
  c.projectorHidden = 16;
  c.projectorOut = 8;
  c.emaParts = std::move(ema);
  return c;
}

double maxDiff(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).abs().max().item<double>(); }

// Perturbs every online parameter as an optimizer step would.
void perturb(SslModel& m, double scale) {
  torch::NoGradGuard g;
  for (auto& p : m.trainableParameters()) p.add_(torch::randn_like(p) * scale);
}

}  // namespace

MSSL_TEST(ssl_part_names_and_validation) {
  CHECK(sslPartNames().size() == 6);
  CHECK(sslPartIndex("projector") == 5);
  CHECK_THROWS(sslPartIndex("layer5"));
  SslModelConfig c = tinyModel({"stem", "stem"});
  CHECK_THROWS(c.validate());
}

MSSL_TEST(ssl_projector_only_ema_matches_reference_and_key_branch) {
  torch::manual_seed(1);
  SslModel m(tinyModel({"projector"}));
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
  SslModel m(tinyModel({"layer3", "layer4", "projector"}));
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
  SslModel m(tinyModel({"stem", "layer1"}));
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
  SslModel m(tinyModel({}));
  CHECK(!m.anyEma());
  ViewForward v = m.forwardOnline(torch::randn({4, 3, 16, 16}));
  torch::Tensor k = m.forwardKey(v);
  CHECK_CLOSE(maxDiff(k, v.z), 0.0, 0.0);
  CHECK(!k.requires_grad());
}

MSSL_TEST(ssl_checkpoint_resume_continues_identically) {
  SslModelConfig mc = tinyModel({"projector"});
  StepConfig sc;
  sc.augment.outSize = 16;
  sc.augment.scaleMin = 0.3;
  sc.totalSteps = 6;
  sc.lr = 0.1;
  sc.loss = "infonce";
  sc.queueSize = 24;
  sc.seed = 7;
  torch::manual_seed(0);
  torch::Tensor data = torch::randint(0, 256, {8, 3, 16, 16}, torch::kByte);
  torch::Tensor idx = torch::arange(8, torch::kLong);
  const std::string path = "/tmp/mssl_ssl_model_test.ckpt";

  StepRunner a(mc, sc);
  for (int s = 0; s < 3; ++s) a.step(data, idx);
  saveCheckpoint(a, path, "{\"sampler\":1}");
  std::vector<double> expected;
  for (int s = 0; s < 3; ++s) expected.push_back(a.step(data, idx).loss);

  StepConfig other = sc;
  other.seed = 99;  // different init and RNG: everything must come from the checkpoint
  StepRunner b(mc, other);
  CHECK(loadCheckpoint(b, path) == "{\"sampler\":1}");
  CHECK(b.stepCount() == 3);
  for (int s = 0; s < 3; ++s) CHECK_CLOSE(b.step(data, idx).loss, expected[s], 1e-6);

  SslModelConfig wrong = tinyModel({"full"});
  wrong.emaParts = {"layer4", "projector"};
  StepRunner c(wrong, sc);
  CHECK_THROWS(loadCheckpoint(c, path));
  CHECK(c.stepCount() == 0);
  std::remove(path.c_str());
}
