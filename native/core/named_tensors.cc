#include "core/named_tensors.h"

#include <stdexcept>

#include "core/ssl_networks.h"

namespace mssl {

namespace {

// Which part a torchvision-style backbone key belongs to.
int partOfKey(const std::string& key) {
  if (key.rfind("conv1.", 0) == 0 || key.rfind("bn1.", 0) == 0) return 0;
  for (int b = 1; b <= 4; ++b) {
    if (key.rfind("layer" + std::to_string(b) + ".", 0) == 0) return b;
  }
  return -1;
}

// NCHW-contiguous whatever the training layout (channels-last): exporters and torchvision expect it.
at::Tensor cpuCopy(const at::Tensor& t) { return t.detach().to(at::kCPU).clone(at::MemoryFormat::Contiguous); }

void checkEma(SslNetworks& model, bool ema, const char* what) {
  if (ema && !model.anyEma()) throw std::invalid_argument(std::string(what) + ": ema=true but the model has no EMA parts");
}

}  // namespace

NamedTensors backboneTensors(SslNetworks& model, bool ema) {
  checkEma(model, ema, "backboneTensors");
  torch::NoGradGuard noGrad;
  auto emaParams = model.emaBackbone().is_empty() ? torch::OrderedDict<std::string, torch::Tensor>() : model.emaBackbone()->named_parameters();
  auto emaBuffers = model.emaBackbone().is_empty() ? torch::OrderedDict<std::string, torch::Tensor>() : model.emaBackbone()->named_buffers();
  NamedTensors out;
  auto pick = [&](const std::string& key, const torch::Tensor& online, const torch::OrderedDict<std::string, torch::Tensor>& emaSide) {
    const int part = partOfKey(key);
    const bool useEma = ema && part >= 0 && model.hasEma(part) && emaSide.contains(key);
    out.emplace_back(key, cpuCopy(useEma ? emaSide[key] : online));
  };
  // Parameters then buffers: torchvision interleaves them per module, but every consumer looks
  // tensors up by name, so the order is cosmetic.
  for (const auto& item : model.backbone()->named_parameters()) pick(item.key(), item.value(), emaParams);
  for (const auto& item : model.backbone()->named_buffers()) pick(item.key(), item.value(), emaBuffers);
  return out;
}

NamedTensors projectorTensors(SslNetworks& model, bool ema) {
  checkEma(model, ema, "projectorTensors");
  torch::NoGradGuard noGrad;
  Mlp& mlp = ema && model.hasEma(kProjectorPart) ? model.emaProjector() : model.projector();
  NamedTensors out;
  for (const auto& item : mlp->named_parameters()) out.emplace_back(item.key(), cpuCopy(item.value()));
  for (const auto& item : mlp->named_buffers()) out.emplace_back(item.key(), cpuCopy(item.value()));
  return out;
}

}  // namespace mssl
