// Process-wide LibTorch facts and settings: version, CUDA, intra-op threads.
#pragma once
#include <string>

namespace mssl {

struct RuntimeInfo {
  std::string torchVersion;  // version of the LibTorch headers the addon was compiled against
  bool cudaCompiled = false;  // addon built with the CUDA kernels (MSSL_WITH_CUDA)
  bool cudaAvailable = false; // a CUDA device is usable now
  int cudaDeviceCount = 0;
  int numThreads = 0;         // intra-op threads of the calling thread's pool
  std::string parallelBackend;
};

RuntimeInfo runtimeInfo();

// Threads for LibTorch intra-op parallelism. With the OpenMP backend the count is per calling
// thread, so it must be applied on the thread that runs the ops (our torch worker thread).
void applyNumThreads(int n);

// Default: MOMENTUM_SSL_NUM_THREADS, else OMP_NUM_THREADS, else hardware concurrency.
int defaultNumThreads();

}  // namespace mssl
