// Negative-key queue (design §4): a ring buffer of normalised keys with, per slot, the sample
// index it came from and a valid flag. Empty slots are masked by the loss, never random-filled.
#pragma once
#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

#include "core/infonce.h"

namespace mssl {

class NegativeQueue {
 public:
  // The sample index of a key whose sample is not known: it never masks a query.
  static constexpr int64_t kUnknownSample = -1;

  // size >= 1 slots of dim >= 1 features; opts give dtype (floating, default float32) and device.
  NegativeQueue(int64_t size, int64_t dim, torch::TensorOptions opts = {});

  // keys [B,D] (normalised here, stored detached), sampleIndex [B] int64 >= 0 (or kUnknownSample). Any B >= 0: wraps
  // around; B > size keeps the last `size` rows exactly where B single-row enqueues would put them.
  // The batch must already be gathered across ranks (design §9). Call it after both loss
  // directions of the step are computed (design §4): negatives() aliases this storage, and the
  // loss reads it when computed (not at backward), so a later enqueue cannot leak into the step.
  void enqueue(const torch::Tensor& keys, const torch::Tensor& sampleIndex);

  // Views of the current state (no copy); pass straight to infoNce.
  InfoNceNegatives negatives() const;

  int64_t size() const { return size_; }
  int64_t dim() const { return dim_; }
  int64_t pointer() const { return pointer_; }  // next slot written
  int64_t numValid() const { return numValid_; }

  // Checkpoint entries (copies): "keys" [K,D], "sampleIndex" [K] int64, "valid" [K] bool,
  // "pointer" 0-d int64.
  std::vector<std::pair<std::string, torch::Tensor>> state() const;
  // Validates names, shapes, dtypes and ranges before changing anything; keeps this queue's
  // dtype and device.
  void loadState(const std::vector<std::pair<std::string, torch::Tensor>>& s);

  void to(const torch::Device& d);

 private:
  int64_t size_, dim_;
  int64_t pointer_ = 0;
  int64_t numValid_ = 0;
  torch::Tensor keys_, sampleIndex_, valid_;
};

}  // namespace mssl
