#include "core/runtime.h"

#include <cstdlib>
#include <stdexcept>
#include <thread>

#include <ATen/Parallel.h>
#include <torch/cuda.h>
#include <torch/version.h>

namespace mssl {

RuntimeInfo runtimeInfo() {
  RuntimeInfo r;
  r.torchVersion = TORCH_VERSION;
#ifdef MSSL_WITH_CUDA
  r.cudaCompiled = true;
#endif
  r.cudaAvailable = torch::cuda::is_available();
  r.cudaDeviceCount = r.cudaAvailable ? static_cast<int>(torch::cuda::device_count()) : 0;
  r.numThreads = at::get_num_threads();
#if AT_PARALLEL_OPENMP
  r.parallelBackend = "openmp";
#elif AT_PARALLEL_NATIVE
  r.parallelBackend = "native";
#else
  r.parallelBackend = "tbb";
#endif
  return r;
}

void applyNumThreads(int n) {
  if (n < 1) throw std::invalid_argument("numThreads must be an integer >= 1, got " + std::to_string(n));
  at::init_num_threads();
  at::set_num_threads(n);
}

static int positiveEnv(const char* name) {
  const char* v = std::getenv(name);
  if (!v) return 0;
  char* end = nullptr;
  long n = std::strtol(v, &end, 10);
  return (end != v && *end == '\0' && n > 0 && n < 4096) ? static_cast<int>(n) : 0;
}

int defaultNumThreads() {
  if (int n = positiveEnv("MOMENTUM_SSL_NUM_THREADS")) return n;
  if (int n = positiveEnv("OMP_NUM_THREADS")) return n;
  unsigned hc = std::thread::hardware_concurrency();
  return hc > 0 ? static_cast<int>(hc) : 1;
}

}  // namespace mssl
