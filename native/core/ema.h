// Fused EMA (design §2, "Fused EMA update"): the parameters of the EMA parts live in one
// contiguous flat buffer per (device, dtype); the update θ_ema ← m·θ_ema + (1−m)·θ is a single
// pass over those buffers, e[i] += (1−m)·(o[i] − e[i]), 12 bytes per fp32 parameter and no
// temporaries.
//
//   mssl::FusedEma ema(onlinePart->parameters(), emaPart->parameters());
//   ema.copyOnlineToEma();                 // once, at the start
//   ... optimizer.step(); ema.update(mssl::momentumAt(step, total, 0.99, 1.0));
//
// Flattening re-points each tensor's data into the buffer (Tensor::set_data under NoGradGuard):
// the tensor objects stay the same, so modules, optimizers and their per-parameter gradients and
// state keep working. A later `.to(device/dtype)` or a checkpoint load re-points parameters
// again; rebind() (called by update() when needed) re-flattens, copying current values.
#pragma once
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace torch {
using at::Tensor;
}

namespace mssl {

// Dtype the EMA copy of an online dtype is kept in: never below fp32 (fp16/bf16/fp32 → fp32),
// fp64 stays fp64.
c10::ScalarType emaDtypeFor(c10::ScalarType online);

// Groups tensors by (device, dtype) in order of first appearance; each group is one contiguous
// 1-D buffer and each tensor becomes a dense view into it (offsets in the given order, no
// padding) that keeps its memory format: channels-last for a 4-D tensor stored channels-last
// (a channels-last model's conv weights), row-major otherwise. Tensors must be defined, dense,
// floating point and distinct.
class FlatParams {
 public:
  explicit FlatParams(std::vector<torch::Tensor> params);
  // Lays `params` out exactly like `like` (same groups, order, offsets and device per group; the
  // i-th tensor of `params` must have the shape of the i-th of `like`), each group stored in
  // emaDtypeFor(group dtype of `like`). This is how an EMA copy mirrors its online tensors.
  FlatParams(std::vector<torch::Tensor> params, const FlatParams& like);

  // True when every tensor is still a view of its group buffer at its offset with its strides.
  bool isFlat() const;
  // Re-flattens if !isFlat(): new buffers, current values copied in, tensors re-pointed. A
  // mirror keeps its layout rule (the one it was built with) and its fp32-at-least dtype.
  void rebind();

  size_t numGroups() const { return buffers_.size(); }
  const torch::Tensor& group(size_t i) const;
  int64_t numel() const;

  size_t size() const { return params_.size(); }
  const std::vector<torch::Tensor>& tensors() const { return params_; }
  size_t groupOf(size_t i) const { return groupOf_.at(i); }
  int64_t offsetOf(size_t i) const { return offset_.at(i); }

  // True when both have the same groups (device, numel) and the same per-tensor group, offset and
  // strides (the elementwise update pairs buffer elements, so both sides must agree on all three).
  bool sameLayoutAs(const FlatParams& other) const;

 private:
  struct Key {
    c10::Device device;
    c10::ScalarType dtype;
  };
  void build(const std::vector<size_t>& groupOf, const std::vector<Key>& keys, const std::vector<std::vector<int64_t>>& strides);
  std::vector<std::vector<int64_t>> currentStrides() const;
  void groupByDeviceAndDtype(std::vector<size_t>& groupOf, std::vector<Key>& keys) const;

  std::vector<torch::Tensor> params_;
  std::vector<size_t> groupOf_;
  std::vector<int64_t> offset_;
  std::vector<std::vector<int64_t>> strides_;  // per tensor, inside its buffer
  std::vector<torch::Tensor> buffers_;
  std::vector<Key> keys_;
  bool mirror_ = false;
};

// Online tensors paired 1:1 with EMA tensors (same shapes). Both sides are flattened; the EMA
// side mirrors the online layout in at least fp32 (emaDtypeFor).
class FusedEma {
 public:
  FusedEma(std::vector<torch::Tensor> online, std::vector<torch::Tensor> ema);

  // θ_ema ← m·θ_ema + (1−m)·θ over all pairs; m in [0, 1]. Rebinds first if a side moved.
  void update(double m);
  // θ_ema ← θ (converted to the EMA dtype); the usual initialisation.
  void copyOnlineToEma();
  // After `.to(device/dtype)` or a checkpoint load of either side: re-flattens what moved and
  // re-mirrors the EMA layout if the online layout changed. No-op when already flat.
  void rebind();
  bool isFlat() const;

  int64_t numel() const { return online_.numel(); }
  const FlatParams& online() const { return online_; }
  const FlatParams& ema() const { return ema_; }

 private:
  FlatParams online_;
  FlatParams ema_;
};

// Per-parameter reference of FusedEma::update (e.mul_(m).add_(o, 1−m) per tensor), for tests and
// benchmarks. Same validation of m and of the pairing.
void emaUpdateReference(const std::vector<torch::Tensor>& online, const std::vector<torch::Tensor>& ema, double m);

// The single-pass kernel on one pair of flat buffers (same device, same numel, `ema` contiguous
// fp32/fp64, `online` contiguous floating): e += weight·(o − e). Exposed for benchmarks.
void emaLerpFlat(const torch::Tensor& online, const torch::Tensor& ema, double weight);

// The instruction set of the fp32 CPU kernel in use: "avx2", "avx512" or "baseline" (picked at
// load: AVX2 when the CPU has it, measured faster than AVX-512 on Zen 4; else AVX-512; else baseline). setEmaKernelIsa("avx2" | "avx512" | "baseline" | "auto") forces one, so a
// benchmark on an AVX-512 machine also measures the AVX2 path; std::invalid_argument when the CPU
// lacks it. Not for use while an update runs on another thread.
const char* emaKernelIsa();
void setEmaKernelIsa(const std::string& isa);

}  // namespace mssl
