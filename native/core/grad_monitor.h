// Per-block and per-part gradient statistics (design §5). Backward hooks on every block's output
// h_k (the stem, each residual block, each projector stage: SslNetworks::gradBlockNames()) collect
// ‖∂L/∂h_k‖² and numel during the normal backward. A part's output is its last block's output, so
// the per-part rms_b = ‖∂L/∂h_b‖₂ / sqrt(numel(h_b)) comes from the same hooks. Nothing is
// registered while disabled, so it costs nothing then; one host sync per step when on. The
// windowed statistics (std, CV, relative change) are computed from these scalars in lib/.
#pragma once
#include <torch/torch.h>

#include <array>
#include <limits>
#include <vector>

#include "core/ssl_networks.h"

namespace mssl {

using PartStats = std::array<double, kNumParts>;

// ‖∂L/∂h_k‖² and numel(h_k) per block, summed over the views; empty when the monitor is off.
struct BlockGradStats {
  std::vector<double> sumsq;
  std::vector<int64_t> numel;
};

class GradMonitor {
 public:
  // The part index of each block (SslNetworks::gradBlockParts()); call once before attach.
  void setBlocks(std::vector<int> blockPart);
  int numBlocks() const { return static_cast<int>(blockPart_.size()); }
  // Registers hooks on every blockOut of this view's online forward (forwardOnline(x, true)),
  // before backward; std::logic_error if the view has no block outputs.
  void attach(ViewForward& view);
  // rms_b per part accumulated since the last take (over all attached views), then resets; the
  // per-block sums go to `blocks` when given. Never-reached parts/blocks report NaN / 0.
  PartStats takeRms(BlockGradStats* blocks = nullptr);

  // Direction stability on a fixed probe batch: cosine between this probe's ∂L/∂h_b and the
  // previous probe's (NaN on the first probe). `grads[b]` is the flattened gradient of part b.
  PartStats probeCosine(const std::array<torch::Tensor, kNumParts>& grads);
  // The same per block (grads[k]: block k's flattened gradient, undefined if absent).
  std::vector<double> probeBlockCosine(const std::vector<torch::Tensor>& grads);
  void resetProbe() {
    previous_ = {};
    previousBlocks_.clear();
  }

 private:
  std::vector<int> blockPart_;
  std::array<int, kNumParts> lastBlock_{};  // the block whose output is the part's output
  std::vector<torch::Tensor> sumsq_;
  std::vector<int64_t> numel_;
  std::array<torch::Tensor, kNumParts> previous_;
  std::vector<torch::Tensor> previousBlocks_;
};

}  // namespace mssl
