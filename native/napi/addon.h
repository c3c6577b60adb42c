// Per-environment addon state (main thread and each worker_thread get their own).
#pragma once
#include <napi.h>

#include <memory>

#include "napi/worker.h"

namespace mssl::napi {

struct AddonData {
  Napi::FunctionReference tensorCtor;
  Napi::FunctionReference processGroupCtor;  // InstanceOf checks of process-group arguments
  std::unique_ptr<TorchWorker> worker;
};

AddonData& addonData(Napi::Env env);

}  // namespace mssl::napi
