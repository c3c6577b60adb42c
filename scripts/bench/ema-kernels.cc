// Variants of the fused EMA's CPU kernel next to ATen's own `a.add_(b)` and `a.lerp_(b, w)`, one
// process, alternated rep by rep (docs/bench/ema-kernel.md has the results and the disassembly).
//   g++ -O3 -std=c++17 -fopenmp -D_GLIBCXX_USE_CXX11_ABI=1 scripts/bench/ema-kernels.cc -o /tmp/ema-kernels -ltorch_cpu -lc10
//   OMP_WAIT_POLICY=PASSIVE /tmp/ema-kernels [numel=11511344] [iters=20] [reps=5]
//   ATEN_CPU_CAPABILITY=avx2 ...   # ATen's AVX2 kernels on an AVX-512 machine
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <immintrin.h>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <functional>
#include <algorithm>

__attribute__((target_clones("avx512f", "avx2", "default")))
void lerpTC(const float* __restrict__ o, float* __restrict__ e, int64_t n, float w) {
  for (int64_t i = 0; i < n; ++i) { float x = e[i]; e[i] = x + w * (o[i] - x); }
}
// Stream: non-temporal stores (needs 32-byte aligned e; at::rand buffers are 64-byte aligned).
template <bool Stream>
__attribute__((target("avx2,fma"))) void lerpAvx2T(const float* __restrict__ o, float* __restrict__ e, int64_t n, float w) {
  const __m256 vw = _mm256_set1_ps(w);
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    for (int k = 0; k < 32; k += 8) {
      const __m256 ek = _mm256_loadu_ps(e + i + k), ok = _mm256_loadu_ps(o + i + k);
      const __m256 r = _mm256_fmadd_ps(vw, _mm256_sub_ps(ok, ek), ek);
      if constexpr (Stream) _mm256_stream_ps(e + i + k, r);
      else _mm256_storeu_ps(e + i + k, r);
    }
  }
  for (; i < n; ++i) { float x = e[i]; e[i] = x + w * (o[i] - x); }
  if constexpr (Stream) _mm_sfence();
}
void lerpAvx2(const float* o, float* e, int64_t n, float w) { lerpAvx2T<false>(o, e, n, w); }
void lerpAvx2NT(const float* o, float* e, int64_t n, float w) { lerpAvx2T<true>(o, e, n, w); }
__attribute__((target("avx512f")))
void lerpAvx512(const float* __restrict__ o, float* __restrict__ e, int64_t n, float w) {
  const __m512 vw = _mm512_set1_ps(w);
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m512 e0 = _mm512_loadu_ps(e + i), e1 = _mm512_loadu_ps(e + i + 16);
    __m512 o0 = _mm512_loadu_ps(o + i), o1 = _mm512_loadu_ps(o + i + 16);
    _mm512_storeu_ps(e + i, _mm512_fmadd_ps(vw, _mm512_sub_ps(o0, e0), e0));
    _mm512_storeu_ps(e + i + 16, _mm512_fmadd_ps(vw, _mm512_sub_ps(o1, e1), e1));
  }
  for (; i < n; ++i) { float x = e[i]; e[i] = x + w * (o[i] - x); }
}
void addBase(float* __restrict__ a, const float* __restrict__ b, int64_t n) { for (int64_t i = 0; i < n; ++i) a[i] += b[i]; }

template <typename F> void dyn(int64_t n, int64_t chunk, const F& fn) {
  const int64_t nc = (n + chunk - 1) / chunk; std::atomic<int64_t> next{0};
  at::parallel_for(0, at::get_num_threads(), 1, [&](int64_t, int64_t) {
    for (int64_t c = next.fetch_add(1); c < nc; c = next.fetch_add(1)) { int64_t b = c * chunk; fn(b, std::min(n, b + chunk)); }
  });
}
template <typename F> void stat(int64_t n, const F& fn) { at::parallel_for(0, n, 32768, fn); }

int main(int argc, char** argv) {
  at::set_num_threads(2);
  int64_t n = argc > 1 ? atoll(argv[1]) : 11511344;
  int iters = argc > 2 ? atoi(argv[2]) : 30;
  int reps = argc > 3 ? atoi(argv[3]) : 5;
  at::Tensor a = at::rand({n}), b = at::rand({n});
  float* pa = a.data_ptr<float>(); const float* pb = b.data_ptr<float>();
  const float w = 0.01f;
  std::vector<std::pair<std::string, std::function<void()>>> v = {
    {"aten_add", [&] { a.add_(b); }},
    {"aten_lerp", [&] { a.lerp_(b, 0.01); }},
    {"tc_dyn64k(cur)", [&] { dyn(n, 65536, [&](int64_t s, int64_t e) { lerpTC(pb + s, pa + s, e - s, w); }); }},
    {"tc_static", [&] { stat(n, [&](int64_t s, int64_t e) { lerpTC(pb + s, pa + s, e - s, w); }); }},
    {"avx2_static", [&] { stat(n, [&](int64_t s, int64_t e) { lerpAvx2(pb + s, pa + s, e - s, w); }); }},
    {"avx2_dyn64k", [&] { dyn(n, 65536, [&](int64_t s, int64_t e) { lerpAvx2(pb + s, pa + s, e - s, w); }); }},
    {"avx2_dyn16k", [&] { dyn(n, 16384, [&](int64_t s, int64_t e) { lerpAvx2(pb + s, pa + s, e - s, w); }); }},
    {"avx2NT_static", [&] { stat(n, [&](int64_t s, int64_t e) { lerpAvx2NT(pb + s, pa + s, e - s, w); }); }},
    {"avx512_static", [&] { stat(n, [&](int64_t s, int64_t e) { lerpAvx512(pb + s, pa + s, e - s, w); }); }},
    {"add_base_pf", [&] { at::parallel_for(0, n, 65536, [&](int64_t s, int64_t e) { addBase(pa + s, pb + s, e - s); }); }},
  };
  std::vector<std::vector<double>> t(v.size());
  for (auto& x : v) x.second();
  for (int r = 0; r < reps; ++r) for (size_t k = 0; k < v.size(); ++k) {
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < iters; ++i) v[k].second();
    t[k].push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / iters);
  }
  for (size_t k = 0; k < v.size(); ++k) { std::sort(t[k].begin(), t[k].end()); double med = t[k][t[k].size()/2];
    printf("%-16s %7.3f ms  %6.1f GB/s\n", v[k].first.c_str(), med * 1e3, 12.0 * n / med / 1e9); }
}
