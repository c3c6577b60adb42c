// Benchmark-only entry points (scripts/bench): time native loops on the torch worker so the
// numbers carry no per-iteration N-API / Promise overhead, and expose trivial calls to measure
// that overhead itself. Each timing function returns a Promise of the mean seconds per iteration.
//   benchNoop()                                  sync, does nothing (N-API call overhead)
//   benchNoopAsync()                             an empty job on the torch worker (Promise round trip)
//   benchFusedEma(online[], iters, m)            FusedEma::update over a private copy of `online`
//   benchEmaLerpFlat(online, ema, iters, w)      the flat kernel alone, on two 1-D buffers
//   benchAddInPlace(a, b, iters, impl)           a += b: 'loop' (parallel_for over restrict
//                                                pointers, as the EMA kernel) or 'aten' (a.add_(b))
//   benchNtXentPair(a, b, iters, tau)            ntXentPair forward + autograd grads + loss.item()
//   benchEmaIsa(isa?)                            sync: forces the fused EMA's CPU kernel ('avx512',
//                                                'avx2', 'baseline', 'auto'); returns the one in use
//   benchMatmul(m, k, n, iters)                  fp32 [m,k]·[k,n] (the machine's sgemm rate)
//   benchConv2d(b, cin, cout, hw, k, iters, channelsLast, backward)
//                                                one 3×3-style conv (stride 1, same padding) forward,
//                                                or forward + backward (input and weight grads)
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/ema.h"
#include "core/ntxent.h"
#include "napi/addon.h"
#include "napi/errors.h"
#include "napi/registry.h"
#include "napi/tensor_wrap.h"
#include "napi/worker.h"

namespace mssl::napi {

namespace {

class BenchJob : public Job {
 public:
  explicit BenchJob(std::function<double()> run) : run_(std::move(run)) {}
  void execute() override { seconds_ = run_(); }
  Napi::Value result(Napi::Env env) override { return Napi::Number::New(env, seconds_); }

 private:
  std::function<double()> run_;
  double seconds_ = 0;
};

Napi::Value submitTimed(const Napi::CallbackInfo& cb, std::function<double()> run, const std::vector<Napi::Object>& keep = {}) {
  auto job = std::make_unique<BenchJob>(std::move(run));
  for (const auto& o : keep) job->keepAlive(o);
  return addonData(cb.Env()).worker->submit(cb.Env(), std::move(job));
}

double numArg(const Napi::CallbackInfo& cb, size_t i, const char* fn, const char* name) {
  if (cb.Length() <= i || !cb[i].IsNumber()) throwTypeError(cb.Env(), std::string(fn) + ": " + name + " must be a number");
  return cb[i].As<Napi::Number>().DoubleValue();
}

int64_t itersArg(const Napi::CallbackInfo& cb, size_t i, const char* fn) {
  double v = numArg(cb, i, fn, "iters");
  if (!(v >= 1 && v == std::trunc(v) && v < 1e9)) throwRangeError(cb.Env(), std::string(fn) + ": iters must be an integer >= 1");
  return static_cast<int64_t>(v);
}

template <typename F>
double timeLoop(int64_t iters, F&& body) {
  auto t0 = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < iters; ++i) body();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / static_cast<double>(iters);
}

Napi::Value benchNoop(const Napi::CallbackInfo& cb) { return cb.Env().Undefined(); }

Napi::Value benchNoopAsync(const Napi::CallbackInfo& cb) {
  return guarded(cb.Env(), [&]() -> Napi::Value { return submitTimed(cb, [] { return 0.0; }); });
}

Napi::Value benchFusedEma(const Napi::CallbackInfo& cb) {
  return guarded(cb.Env(), [&]() -> Napi::Value {
    const char* fn = "benchFusedEma";
    if (cb.Length() < 1 || !cb[0].IsArray()) throwTypeError(cb.Env(), std::string(fn) + ": online must be an array of Tensors");
    auto arr = cb[0].As<Napi::Array>();
    std::vector<at::Tensor> src;
    for (uint32_t i = 0; i < arr.Length(); ++i) src.push_back(TensorWrap::arg(arr.Get(i), "online[i]"));
    int64_t iters = itersArg(cb, 1, fn);
    double m = numArg(cb, 2, fn, "m");
    return submitTimed(cb, [src, iters, m] {
      torch::NoGradGuard ng;
      std::vector<at::Tensor> online, ema;
      for (const auto& t : src) {
        online.push_back(t.detach().clone());
        ema.push_back(t.detach().clone());
      }
      FusedEma fused(online, ema);
      fused.update(m);  // warm: page faults, caches
      return timeLoop(iters, [&] { fused.update(m); });
    });
  });
}

Napi::Value benchEmaLerpFlat(const Napi::CallbackInfo& cb) {
  return guarded(cb.Env(), [&]() -> Napi::Value {
    const char* fn = "benchEmaLerpFlat";
    at::Tensor online = TensorWrap::arg(cb.Length() > 0 ? cb[0] : cb.Env().Undefined(), "online");
    at::Tensor ema = TensorWrap::arg(cb.Length() > 1 ? cb[1] : cb.Env().Undefined(), "ema");
    int64_t iters = itersArg(cb, 2, fn);
    double w = numArg(cb, 3, fn, "weight");
    return submitTimed(cb, [online, ema, iters, w] {
      torch::NoGradGuard ng;
      emaLerpFlat(online, ema, w);
      return timeLoop(iters, [&] { emaLerpFlat(online, ema, w); });
    }, {cb[0].As<Napi::Object>(), cb[1].As<Napi::Object>()});
  });
}

void addLoopChunk(float* __restrict__ a, const float* __restrict__ b, int64_t n) {
  for (int64_t i = 0; i < n; ++i) a[i] += b[i];
}

Napi::Value benchAddInPlace(const Napi::CallbackInfo& cb) {
  return guarded(cb.Env(), [&]() -> Napi::Value {
    const char* fn = "benchAddInPlace";
    at::Tensor a = TensorWrap::arg(cb.Length() > 0 ? cb[0] : cb.Env().Undefined(), "a");
    at::Tensor b = TensorWrap::arg(cb.Length() > 1 ? cb[1] : cb.Env().Undefined(), "b");
    int64_t iters = itersArg(cb, 2, fn);
    std::string impl = cb.Length() > 3 && cb[3].IsString() ? cb[3].As<Napi::String>().Utf8Value() : "loop";
    if (a.scalar_type() != at::kFloat || b.scalar_type() != at::kFloat || a.numel() != b.numel() || !a.is_contiguous() ||
        !b.is_contiguous()) {
      throwTypeError(cb.Env(), std::string(fn) + ": a and b must be contiguous float32 tensors of equal numel");
    }
    if (impl != "loop" && impl != "aten") throwTypeError(cb.Env(), std::string(fn) + ": impl must be 'loop' or 'aten'");
    return submitTimed(cb, [a, b, iters, impl] {
      torch::NoGradGuard ng;
      float* pa = a.data_ptr<float>();
      const float* pb = b.data_ptr<float>();
      const int64_t n = a.numel();
      auto once = [&] {
        if (impl == "aten") {
          a.add_(b);
        } else {
          at::parallel_for(0, n, 65536, [&](int64_t s, int64_t e) { addLoopChunk(pa + s, pb + s, e - s); });
        }
      };
      once();
      return timeLoop(iters, once);
    }, {cb[0].As<Napi::Object>(), cb[1].As<Napi::Object>()});
  });
}

Napi::Value benchNtXentPair(const Napi::CallbackInfo& cb) {
  return guarded(cb.Env(), [&]() -> Napi::Value {
    const char* fn = "benchNtXentPair";
    at::Tensor a = TensorWrap::arg(cb.Length() > 0 ? cb[0] : cb.Env().Undefined(), "a");
    at::Tensor b = TensorWrap::arg(cb.Length() > 1 ? cb[1] : cb.Env().Undefined(), "b");
    int64_t iters = itersArg(cb, 2, fn);
    double tau = numArg(cb, 3, fn, "temperature");
    return submitTimed(cb, [a, b, iters, tau] {
      torch::AutoGradMode gradOn(true);
      auto once = [&] {
        at::Tensor la = a.detach().requires_grad_(true), lb = b.detach().requires_grad_(true);
        at::Tensor loss = ntXentPair(la, lb, tau);
        auto grads = torch::autograd::grad({loss}, {la, lb});
        volatile double v = loss.item<double>();
        (void)v;
      };
      once();
      return timeLoop(iters, once);
    }, {cb[0].As<Napi::Object>(), cb[1].As<Napi::Object>()});
  });
}

Napi::Value benchEmaIsa(const Napi::CallbackInfo& cb) {
  return guarded(cb.Env(), [&]() -> Napi::Value {
    if (cb.Length() > 0 && cb[0].IsString()) setEmaKernelIsa(cb[0].As<Napi::String>().Utf8Value());
    return Napi::String::New(cb.Env(), emaKernelIsa());
  });
}

Napi::Value benchMatmul(const Napi::CallbackInfo& cb) {
  return guarded(cb.Env(), [&]() -> Napi::Value {
    const char* fn = "benchMatmul";
    const auto m = static_cast<int64_t>(numArg(cb, 0, fn, "m")), k = static_cast<int64_t>(numArg(cb, 1, fn, "k")),
               n = static_cast<int64_t>(numArg(cb, 2, fn, "n"));
    int64_t iters = itersArg(cb, 3, fn);
    return submitTimed(cb, [m, k, n, iters] {
      torch::NoGradGuard ng;
      at::Tensor a = at::randn({m, k}), b = at::randn({k, n}), c = at::empty({m, n});
      at::mm_out(c, a, b);
      return timeLoop(iters, [&] { at::mm_out(c, a, b); });
    });
  });
}

Napi::Value benchConv2d(const Napi::CallbackInfo& cb) {
  return guarded(cb.Env(), [&]() -> Napi::Value {
    const char* fn = "benchConv2d";
    const auto b = static_cast<int64_t>(numArg(cb, 0, fn, "b")), cin = static_cast<int64_t>(numArg(cb, 1, fn, "cin")),
               cout = static_cast<int64_t>(numArg(cb, 2, fn, "cout")), hw = static_cast<int64_t>(numArg(cb, 3, fn, "hw")),
               k = static_cast<int64_t>(numArg(cb, 4, fn, "k"));
    int64_t iters = itersArg(cb, 5, fn);
    const bool channelsLast = cb.Length() > 6 && cb[6].ToBoolean().Value();
    const bool backward = cb.Length() > 7 && cb[7].ToBoolean().Value();
    return submitTimed(cb, [=] {
      const auto fmt = channelsLast ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous;
      at::Tensor x = at::randn({b, cin, hw, hw}).contiguous(fmt);
      at::Tensor w = at::randn({cout, cin, k, k}).contiguous(fmt);
      auto once = [&] {
        if (!backward) {
          torch::NoGradGuard ng;
          (void)at::conv2d(x, w, {}, 1, k / 2);
          return;
        }
        torch::AutoGradMode on(true);
        at::Tensor xi = x.detach().requires_grad_(true), wi = w.detach().requires_grad_(true);
        at::Tensor y = at::conv2d(xi, wi, {}, 1, k / 2);
        auto g = torch::autograd::grad({y}, {xi, wi}, {at::ones_like(y)});
      };
      once();
      return timeLoop(iters, once);
    });
  });
}

void init(Napi::Env env, Napi::Object exports) {
  exports.Set("benchEmaIsa", Napi::Function::New<benchEmaIsa>(env, "benchEmaIsa"));
  exports.Set("benchMatmul", Napi::Function::New<benchMatmul>(env, "benchMatmul"));
  exports.Set("benchConv2d", Napi::Function::New<benchConv2d>(env, "benchConv2d"));
  exports.Set("benchNoop", Napi::Function::New<benchNoop>(env, "benchNoop"));
  exports.Set("benchNoopAsync", Napi::Function::New<benchNoopAsync>(env, "benchNoopAsync"));
  exports.Set("benchFusedEma", Napi::Function::New<benchFusedEma>(env, "benchFusedEma"));
  exports.Set("benchEmaLerpFlat", Napi::Function::New<benchEmaLerpFlat>(env, "benchEmaLerpFlat"));
  exports.Set("benchAddInPlace", Napi::Function::New<benchAddInPlace>(env, "benchAddInPlace"));
  exports.Set("benchNtXentPair", Napi::Function::New<benchNtXentPair>(env, "benchNtXentPair"));
}

}  // namespace

MSSL_REGISTER_BINDING(bench, init);

}  // namespace mssl::napi
