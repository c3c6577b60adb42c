#include "napi/addon.h"

#include <string>
#include <utility>
#include <vector>

#include "core/runtime.h"
#include "napi/registry.h"

namespace mssl::napi {

namespace {
std::vector<std::pair<const char*, BindingInit>>& bindings() {
  static std::vector<std::pair<const char*, BindingInit>> list;
  return list;
}
}  // namespace

BindingRegistrar::BindingRegistrar(const char* name, BindingInit init) { bindings().emplace_back(name, init); }

void initAllBindings(Napi::Env env, Napi::Object exports) {
  for (auto& [name, init] : bindings()) init(env, exports);
}

AddonData& addonData(Napi::Env env) { return *env.GetInstanceData<AddonData>(); }

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  env.SetInstanceData(data);
  data->worker = std::make_unique<TorchWorker>(env, defaultNumThreads());
  // Join the worker before the environment goes (process exit, worker_thread termination):
  // the job in flight finishes, queued ones are dropped.
  env.AddCleanupHook([data] { data->worker->stop(); });
  initAllBindings(env, exports);
  exports.Set("addonAbi", Napi::Number::New(env, NAPI_VERSION));
  return exports;
}

}  // namespace mssl::napi

static Napi::Object InitMomentumSsl(Napi::Env env, Napi::Object exports) { return mssl::napi::Init(env, exports); }
NODE_API_MODULE(momentum_ssl, InitMomentumSsl)
