// The fused EMA's bandwidth on a device against a device copy and ATen's a += b (12 bytes per
// parameter for the EMA and a += b, 8 for a copy), ResNet-18 + projector sized. A measurement,
// not a test: scripts/dev/cuda-check.sh builds it (CMake target mssl_ema_bandwidth) and prints it.
//   mssl_ema_bandwidth [cuda|cpu]
#include <torch/torch.h>

#include <chrono>
#include <iostream>
#include <string>

#include "core/ema.h"

int main(int argc, char** argv) {
  const std::string dev = argc > 1 ? argv[1] : (torch::cuda::is_available() ? "cuda" : "cpu");
  const torch::Device device(dev);
  const int64_t n = 11505856;
  auto opts = torch::TensorOptions().device(device);
  torch::Tensor o = torch::randn({n}, opts), e = torch::randn({n}, opts), dst = torch::empty_like(o);
  auto sync = [&] {
    if (device.is_cuda()) torch::cuda::synchronize();
  };
  auto seconds = [&](auto&& fn) {
    for (int i = 0; i < 3; ++i) fn();
    sync();
    const int iters = device.is_cuda() ? 200 : 20;
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < iters; ++i) fn();
    sync();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / iters;
  };
  const double tEma = seconds([&] { mssl::emaLerpFlat(o, e, 0.01); });
  const double tCopy = seconds([&] { dst.copy_(o); });
  const double tAdd = seconds([&] { e.add_(o); });
  const double gbEma = 12.0 * n / tEma / 1e9, gbCopy = 8.0 * n / tCopy / 1e9, gbAdd = 12.0 * n / tAdd / 1e9;
  std::cout << "device " << device << ": fused EMA " << gbEma << " GB/s, copy " << gbCopy << " GB/s, a+=b " << gbAdd
            << " GB/s; EMA/copy " << 100.0 * gbEma / gbCopy << " %, EMA/a+=b " << 100.0 * gbEma / gbAdd << " %\n";
  return gbEma > 0 && gbCopy > 0 ? 0 : 1;
}
