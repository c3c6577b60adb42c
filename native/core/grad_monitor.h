// Per-part gradient statistics (design §5). Backward hooks on each part's output h_b collect
// ‖∂L/∂h_b‖² and numel during the normal backward; rms_b = ‖∂L/∂h_b‖₂ / sqrt(numel(h_b)).
// Nothing is registered while disabled, so it costs nothing then. The windowed statistics
// (coefficient of variation, mean relative change) are computed from these scalars in lib/.
#pragma once
#include <torch/torch.h>

#include <array>
#include <limits>

#include "core/ssl_networks.h"

namespace mssl {

using PartStats = std::array<double, kNumParts>;

class GradMonitor {
 public:
  // Registers hooks on every partOut of this view's online forward (call before backward).
  void attach(ViewForward& view);
  // rms_b accumulated since the last take (over all attached views), then resets.
  // Parts whose gradient never arrived (none expected) report NaN.
  PartStats takeRms();

  // Direction stability on a fixed probe batch: cosine between this probe's ∂L/∂h_b and the
  // previous probe's (NaN on the first probe). `grads[b]` is the flattened gradient of part b.
  PartStats probeCosine(const std::array<torch::Tensor, kNumParts>& grads);
  void resetProbe() { previous_ = {}; }

 private:
  std::array<torch::Tensor, kNumParts> sumsq_;
  std::array<int64_t, kNumParts> numel_{};
  std::array<torch::Tensor, kNumParts> previous_;
};

}  // namespace mssl
