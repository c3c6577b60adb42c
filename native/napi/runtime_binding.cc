// info(), setNumThreads(), getNumThreads().
#include "core/runtime.h"
#include "napi/addon.h"
#include "napi/errors.h"
#include "napi/registry.h"

namespace mssl::napi {

static Napi::Value info(const Napi::CallbackInfo& cb) {
  return guarded(cb.Env(), [&]() -> Napi::Value {
    Napi::Env env = cb.Env();
    RuntimeInfo r = runtimeInfo();
    auto o = Napi::Object::New(env);
    o.Set("torchVersion", r.torchVersion);
    o.Set("cudaCompiled", r.cudaCompiled);
    o.Set("cudaAvailable", r.cudaAvailable);
    o.Set("cudaDeviceCount", r.cudaDeviceCount);
    // The count that applies is the torch worker's: jobs run there.
    o.Set("numThreads", addonData(env).worker->numThreads());
    o.Set("parallelBackend", r.parallelBackend);
    return o;
  });
}

static Napi::Value setNumThreads(const Napi::CallbackInfo& cb) {
  Napi::Env env = cb.Env();
  double n = cb.Length() > 0 && cb[0].IsNumber() ? cb[0].As<Napi::Number>().DoubleValue() : -1;
  if (!(n >= 1 && n <= 4096) || n != static_cast<double>(static_cast<int>(n))) {
    throwRangeError(env, "setNumThreads: n must be an integer in [1, 4096]");
  }
  addonData(env).worker->setNumThreads(static_cast<int>(n));
  return env.Undefined();
}

// Stops this environment's torch worker (the job in flight finishes, queued jobs are dropped).
// lib/native.ts calls it on process 'exit', before C exit() tears LibTorch down.
static Napi::Value shutdown(const Napi::CallbackInfo& cb) {
  addonData(cb.Env()).worker->stop();
  return cb.Env().Undefined();
}

static void init(Napi::Env env, Napi::Object exports) {
  exports.Set("shutdown", Napi::Function::New<shutdown>(env, "shutdown"));
  exports.Set("info", Napi::Function::New<info>(env, "info"));
  exports.Set("setNumThreads", Napi::Function::New<setNumThreads>(env, "setNumThreads"));
}
MSSL_REGISTER_BINDING(runtime, init);

}  // namespace mssl::napi
