// The tiny networks the training-step tests share: a width-1/8 ResNet-18, a 32-16 projector, and
// what each objective needs (a predictor for BYOL/SimSiam, a queue for InfoNCE).
#pragma once
#include <string>
#include <vector>

#include "core/ssl_model.h"

namespace mssl_test {

inline mssl::SslConfig tinyNetworks(const std::string& objective, std::vector<std::string> ema, int64_t queueSize) {
  mssl::SslConfig c;
  c.networks.backbone.width = 0.125;
  c.networks.projectorHidden = 32;
  c.networks.projectorOut = 16;
  c.networks.emaParts = std::move(ema);
  c.objective.name = objective;
  if (objective == "byol" || objective == "simsiam") c.networks.predictorHidden = 16;
  if (objective == "simsiam") c.networks.projectorLastBn = true;
  if (objective == "infonce") c.objective.options["queueSize"] = static_cast<double>(queueSize);
  return c;
}

}  // namespace mssl_test
