// In-memory image datasets as plain LibTorch tensors, and the epoch sampler.
//
// A dataset is ONE uint8 tensor [N, C, H, W] (contiguous, loaded once) plus int64 labels [N].
// Batches are gathered with index_select, so pixels never pass through the caller per batch;
// uint8 keeps the whole dataset 4x smaller than float (augmentation converts per batch).
//
// Errors: std::invalid_argument for wrong types/shapes/options, std::out_of_range for values
// out of range (the addon maps them to TypeError / RangeError).
#pragma once
#include <ATen/ATen.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace mssl::data {

// Images + labels of a dataset or of a batch.
struct ImageBatch {
  at::Tensor images;  // uint8 [B, C, H, W]
  at::Tensor labels;  // int64 [B]
  at::Tensor index;   // int64 [B]: dataset rows the batch came from (empty for whole datasets)
};

// How the pixel bytes are laid out per sample.
enum class Layout { NCHW, NHWC };

// Validates images (uint8, 4-D, or 3-D [N, H, W] meaning C = 1) and labels (integer, 1-D,
// same N, values in [0, numClasses) when numClasses > 0) and returns the canonical form:
// contiguous uint8 [N, C, H, W] (NHWC input is transposed once here) and int64 labels.
ImageBatch prepare(const at::Tensor& images, const at::Tensor& labels, int64_t numClasses, Layout layout = Layout::NCHW);

// Fixed-size binary records (e.g. CIFAR: label byte(s) then C*H*W pixel bytes, CHW order).
struct RecordSpec {
  int64_t recordSize = 0;
  int64_t labelOffset = 0;  // byte within the record holding the label
  int64_t pixelOffset = 0;  // first pixel byte within the record
  int64_t channels = 0, height = 0, width = 0;
};

// Splits raw uint8 bytes (1-D, or [N, recordSize]) into images [N, C, H, W] and int64 labels.
// The byte count must be a positive multiple of recordSize.
ImageBatch unpackRecords(const at::Tensor& raw, const RecordSpec& spec);

// Converts indices (int32/int64, 1-D) to int64 and checks each is in [0, n); the message
// names `what` and the first bad position.
at::Tensor checkIndices(const at::Tensor& indices, int64_t n, const std::string& what = "indices");

// index_select of images and labels; the result owns its memory (a copy, not a view).
ImageBatch gather(const at::Tensor& images, const at::Tensor& labels, const at::Tensor& indices);

// ---------------------------------------------------------------------------------------------
// Deterministic permutation. Deliberately not torch::randperm: its CPU algorithm has changed
// between LibTorch releases, and a resumed run must see the same order on any build. We use
// xoshiro256** seeded through splitmix64 from (seed, epoch) and a Fisher–Yates shuffle from the
// end with unbiased (rejection-sampled) bounds. Same output on every platform and version.
class Xoshiro256 {
 public:
  Xoshiro256(uint64_t seed, uint64_t stream);
  // Raw state, for checking against the reference implementation's test vectors.
  explicit Xoshiro256(const std::array<uint64_t, 4>& state) : s_{state[0], state[1], state[2], state[3]} {}
  uint64_t next();
  // Uniform in [0, bound), bound >= 1, without modulo bias.
  uint64_t below(uint64_t bound);

 private:
  uint64_t s_[4];
};

// int64 [n]: a permutation of 0..n-1 for (seed, epoch); identity when shuffle is false.
at::Tensor permutation(int64_t n, uint64_t seed, int64_t epoch, bool shuffle = true);

struct SamplerConfig {
  int64_t size = 0;       // samples in the dataset
  int64_t batchSize = 1;  // >= 1
  bool dropLast = false;  // drop the last partial batch of each epoch
  bool shuffle = true;
  uint64_t seed = 0;
  // Data parallel (design §9, DistributedSampler's semantics): every rank computes the same
  // permutation and takes every worldSize-th sample from position `rank`, after dropping the tail
  // that would leave ranks unequal; batches are then cut from that share (dropLast required), so
  // batch b of all ranks together is batch b of one process with batchSize·worldSize.
  int64_t rank = 0;
  int64_t worldSize = 1;
};

// Where the sampler is: the next batch is batch `position` of epoch `epoch`. This is all that
// a checkpoint needs; the order itself is recomputed from (seed, epoch).
struct SamplerState {
  int64_t epoch = 0;
  int64_t position = 0;  // batches already taken in this epoch, in [0, batchesPerEpoch)
};

// Endless stream of index batches, epoch after epoch. After the last batch of an epoch the
// state moves to {epoch + 1, 0}, so a state saved at an epoch boundary resumes at the next one.
class EpochSampler {
 public:
  explicit EpochSampler(const SamplerConfig& config);

  const SamplerConfig& config() const { return cfg_; }
  int64_t batchesPerEpoch() const;
  SamplerState state() const { return st_; }
  void setState(const SamplerState& s);
  // int64 [B]: the next batch (B = batchSize, or less for the last batch without dropLast).
  at::Tensor next();
  // The order of the current epoch (int64 [size]).
  const at::Tensor& order();

 private:
  SamplerConfig cfg_;
  SamplerState st_;
  at::Tensor perm_;
  int64_t permEpoch_ = -1;
};

}  // namespace mssl::data
