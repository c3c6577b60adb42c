// The JS handle of a data-parallel process group (native/core/distributed.h): NativeProcessGroup.
#pragma once
#include <napi.h>

#include <memory>

#include "core/collectives.h"

namespace mssl::napi {

// The group behind a NativeProcessGroup argument (TypeError naming `name` otherwise; an error if
// it was never connected or was shut down).
std::shared_ptr<Collectives> processGroupArg(const Napi::Value& v, const char* name);

}  // namespace mssl::napi
