#include "check.h"
#include "core/named_tensors.h"
#include "core/ssl_networks.h"

using namespace mssl;

namespace {

SslNetworksConfig namedTensorsModel(std::vector<std::string> ema) {
  SslNetworksConfig c;
  c.backbone.width = 0.125;
  c.backbone.inChannels = 1;
  c.projectorHidden = 6;
  c.projectorOut = 4;
  c.emaParts = std::move(ema);
  return c;
}

const at::Tensor& find(const NamedTensors& ts, const std::string& name) {
  for (const auto& [k, t] : ts) {
    if (k == name) return t;
  }
  throw std::runtime_error("no tensor " + name);
}

}  // namespace

MSSL_TEST(named_tensors_backbone_has_torchvision_keys_as_detached_copies) {
  SslNetworks m(namedTensorsModel({}));
  NamedTensors ts = backboneTensors(m);
  CHECK(ts.front().first == "conv1.weight");
  CHECK(find(ts, "layer4.1.bn2.running_var").numel() == 64);
  CHECK(find(ts, "layer2.0.downsample.0.weight").size(0) == 16);  // round(128 * 0.125)
  // Parameters and buffers: the model's count of each.
  CHECK(ts.size() == m.backbone()->named_parameters().size() + m.backbone()->named_buffers().size());
  // Copies: changing one leaves the model as it was.
  at::Tensor w = find(ts, "conv1.weight");
  CHECK(!w.requires_grad());
  w.fill_(7);
  CHECK(m.backbone()->named_parameters()["conv1.weight"].max().item<double>() != 7);
  CHECK_THROWS(backboneTensors(m, /*ema=*/true));
}

MSSL_TEST(named_tensors_projector_mlp_keys_and_ema_copy) {
  SslNetworks m(namedTensorsModel({"projector"}));
  NamedTensors online = projectorTensors(m);
  std::vector<std::string> keys;
  for (const auto& [k, t] : online) keys.push_back(k);
  const std::vector<std::string> want{"0.weight", "0.bias", "1.weight", "1.bias", "3.weight", "3.bias", "1.running_mean", "1.running_var", "1.num_batches_tracked"};
  CHECK(keys == want);
  {
    torch::NoGradGuard g;
    m.emaProjector()->named_parameters()["0.weight"].add_(1);
  }
  NamedTensors ema = projectorTensors(m, /*ema=*/true);
  CHECK_CLOSE((find(ema, "0.weight") - find(online, "0.weight")).mean().item<double>(), 1.0, 1e-6);
}
