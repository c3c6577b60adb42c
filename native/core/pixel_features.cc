#include "core/pixel_features.h"

#include <stdexcept>

namespace mssl {

torch::Tensor pixelFeatures(const torch::Tensor& images) {
  if (!images.defined() || images.scalar_type() != torch::kByte || images.dim() < 2) {
    throw std::invalid_argument("pixelFeatures: images must be a uint8 tensor [N,...]");
  }
  return images.reshape({images.size(0), -1}).to(torch::kFloat).div_(255.0);
}

}  // namespace mssl
