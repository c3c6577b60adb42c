// Reads the flat JS augment config (field names of the C++ AugmentConfig) into AugmentConfig.
// Missing or undefined fields keep the core defaults; unknown fields and wrong types name the field.
#pragma once
#include <napi.h>

#include "core/augment.h"

namespace mssl::napi {

AugmentConfig augmentConfigFromJs(Napi::Env env, const Napi::Value& v);

}  // namespace mssl::napi
