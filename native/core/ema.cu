// CUDA side of the fused EMA update (design §2): one grid-stride kernel over a pair of flat
// buffers, e[i] += w·(o[i] − e[i]). Loads and stores are vectorised (16 bytes of EMA data per
// thread and iteration: float4-sized for fp32, 2×fp64) when both pointers are aligned, which
// they are for the buffers FlatParams allocates; a scalar loop covers the tail. The online side
// may be fp16/bf16/fp32/fp64; the EMA side is fp32 (fp64 for fp64 online), so the kernel reads
// the online dtype and writes the EMA dtype.
//
// Compiled only when LibTorch has CUDA (CMakeLists defines MSSL_WITH_CUDA then); ema.cc calls
// mssl::detail::emaLerpCuda under that macro. Kept C++14-clean for older nvcc dialects.
// Only core/c10 headers: ATen/cuda/CUDAContext.h would pull in the cuBLAS/cuSPARSE headers.
#include <ATen/Dispatch.h>
#include <ATen/core/Tensor.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include <cstdint>
#include <stdexcept>

namespace mssl {
namespace detail {

namespace {

template <typename T, int N>
struct alignas(sizeof(T) * N) Pack {
  T v[N];
};

template <typename O, typename E, int N>
__global__ void emaLerpKernel(const O* __restrict__ o, E* __restrict__ e, int64_t n, E w, bool vectorised) {
  const int64_t stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
  const int64_t tid = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  int64_t done = 0;
  if (vectorised) {
    const int64_t nvec = n / N;
    const Pack<O, N>* ov = reinterpret_cast<const Pack<O, N>*>(o);
    Pack<E, N>* ev = reinterpret_cast<Pack<E, N>*>(e);
    for (int64_t i = tid; i < nvec; i += stride) {
      const Pack<O, N> a = ov[i];
      Pack<E, N> b = ev[i];
#pragma unroll
      for (int k = 0; k < N; ++k) {
        const E x = b.v[k];
        b.v[k] = x + w * (static_cast<E>(a.v[k]) - x);
      }
      ev[i] = b;
    }
    done = nvec * N;
  }
  for (int64_t i = done + tid; i < n; i += stride) {
    const E x = e[i];
    e[i] = x + w * (static_cast<E>(o[i]) - x);
  }
}

template <typename O, typename E>
void launch(const at::Tensor& online, const at::Tensor& ema, double weight) {
  constexpr int N = 16 / static_cast<int>(sizeof(E));  // 4 × fp32 or 2 × fp64
  const O* o = online.data_ptr<O>();
  E* e = ema.data_ptr<E>();
  const int64_t n = ema.numel();
  const bool vectorised = reinterpret_cast<std::uintptr_t>(o) % (sizeof(O) * N) == 0 &&
                          reinterpret_cast<std::uintptr_t>(e) % (sizeof(E) * N) == 0;
  const int threads = 256;
  const int64_t work = vectorised ? (n + N - 1) / N : n;
  int sms = 0;
  C10_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, ema.get_device()));
  // A few waves of resident blocks; the grid-stride loop covers the rest.
  int64_t blocks = (work + threads - 1) / threads;
  const int64_t maxBlocks = static_cast<int64_t>(sms) * 8;
  if (blocks > maxBlocks) blocks = maxBlocks;
  if (blocks < 1) blocks = 1;
  cudaStream_t stream = c10::cuda::getCurrentCUDAStream(ema.get_device()).stream();
  emaLerpKernel<O, E, N><<<static_cast<unsigned>(blocks), threads, 0, stream>>>(o, e, n, static_cast<E>(weight), vectorised);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

}  // namespace

void emaLerpCuda(const at::Tensor& online, const at::Tensor& ema, double weight) {
  if (!online.is_cuda() || !ema.is_cuda() || online.device() != ema.device()) {
    throw std::invalid_argument("emaLerpCuda: online and ema must be on the same CUDA device");
  }
  if (online.numel() != ema.numel() || !online.is_contiguous() || !ema.is_contiguous()) {
    throw std::invalid_argument("emaLerpCuda: online and ema must be contiguous with the same numel");
  }
  if (ema.numel() == 0) return;
  const c10::cuda::CUDAGuard guard(ema.device());
  if (ema.scalar_type() == at::kDouble) {
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, online.scalar_type(), "mssl_ema_lerp_f64",
                                    [&] { launch<scalar_t, double>(online, ema, weight); });
  } else if (ema.scalar_type() == at::kFloat) {
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, online.scalar_type(), "mssl_ema_lerp_f32",
                                    [&] { launch<scalar_t, float>(online, ema, weight); });
  } else {
    throw std::invalid_argument("emaLerpCuda: ema buffer must be float32 or float64");
  }
}

}  // namespace detail
}  // namespace mssl
