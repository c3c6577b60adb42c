// Collective operations across data-parallel ranks (design §9), as the training step sees them:
// an interface with no c10d in it, so the step, the objectives and SyncBatchNorm compile without
// the process-group headers. The implementation over LibTorch's c10d (ProcessGroupGloo on CPU,
// ProcessGroupNCCL on CUDA) is in distributed.h; `nullptr` everywhere means one process.
//
// Every rank must call the same collectives in the same order with tensors of the same shapes
// (what identical configurations guarantee; the rendezvous compares config signatures).
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace mssl {

class Collectives {
 public:
  virtual ~Collectives() = default;
  virtual int rank() const = 0;
  virtual int worldSize() const = 0;
  // In place: each tensor becomes the sum over ranks (contiguous tensors of one dtype and device).
  virtual void allReduceSum(std::vector<torch::Tensor>& tensors) = 0;
  // Every rank's `t` (same shape on every rank) concatenated along dim 0 in rank order.
  virtual torch::Tensor allGather(const torch::Tensor& t) = 0;
  // In place: every tensor takes rank `root`'s value.
  virtual void broadcast(std::vector<torch::Tensor>& tensors, int root) = 0;
  virtual void barrier() = 0;
  // Every rank's string (any length), in rank order: for agreement checks before training.
  virtual std::vector<std::string> allGatherStrings(const std::string& s) = 0;
  // Wall milliseconds spent inside collectives since construction (the step reports its share).
  virtual double busyMs() const = 0;
};

// allGather with the gradient flowing back to the local slice (design §9): the backward
// all-reduces (sums) the incoming gradient of the whole gathered tensor and keeps this rank's
// rows, so every rank's parameters get Σ_r ∂L_r/∂(its rows) — the semantics lightly fixed in its
// issue #1528 (returning only the local slice of the local gradient loses the other ranks' terms).
torch::Tensor gatherWithGrad(Collectives& c, const torch::Tensor& t);

// The same tensor's rows from every rank without gradient (momentum-branch keys, sample indices).
torch::Tensor gatherNoGrad(Collectives& c, const torch::Tensor& t);

// Coalesced broadcast from `root` of any tensors (any memory format; values copied back in place).
void broadcastCoalesced(Collectives& c, const std::vector<torch::Tensor>& tensors, int root);

// Gradient averaging after backward (design §9): the defined gradients of `params` in their fixed
// order, packed into flat buckets of at most `bucketBytes` (one bucket per dtype run), each
// all-reduced and divided by the world size, then copied back. Parameters without a gradient are
// skipped (identical configurations leave the same ones undefined on every rank).
class GradientBuckets {
 public:
  static constexpr int64_t kDefaultBucketBytes = 25LL << 20;  // DDP's bucket_cap_mb = 25
  GradientBuckets(std::vector<torch::Tensor> params, int64_t bucketBytes);
  void allReduceMean(Collectives& c);
  int64_t bucketBytes() const { return bucketBytes_; }
  // Bytes all-reduced by the last call (the measurement script reports it).
  int64_t lastBytes() const { return lastBytes_; }

 private:
  std::vector<torch::Tensor> params_;
  int64_t bucketBytes_;
  int64_t lastBytes_ = 0;
};

// The model's data-parallel settings (SslConfig::dataParallel, read only when a process group is
// attached to the model).
struct DataParallelConfig {
  // BatchNorm statistics over the whole data-parallel batch (sync_batch_norm.h); off: each rank
  // normalises its own batch and rank 0's running statistics are broadcast each step (DDP's
  // broadcast_buffers).
  bool syncBatchNorm = false;
  int64_t bucketBytes = GradientBuckets::kDefaultBucketBytes;
  void validate() const {
    if (bucketBytes < 1024 || bucketBytes > (int64_t{1} << 40)) {
      throw std::out_of_range("dataParallel.bucketBytes must be in [1024, 2^40], got " + std::to_string(bucketBytes));
    }
  }
};

}  // namespace mssl
