// The JS shape of the configuration (design §8), written once: a visitor walks every field of
// the JS SslConfig (and of the standalone augment config) next to the C++ member it maps to.
// The reader (JS → C++) and the writer (C++ → JS) both use it, so field names, nesting and
// [min, max] pairs exist in one place, and the defaults JS sees are the C++ defaults. Values are
// validated by the core (SslConfig::validate); the reader checks only JS types and unknown keys.
#pragma once
#include <napi.h>

#include "core/augment.h"
#include "core/ssl_model.h"

namespace mssl::napi {

// Missing keys keep the C++ defaults; unknown keys and wrong JS types throw a TypeError naming
// the full path ("config.ema.base") and, for unknown keys, the known ones.
SslConfig sslConfigFromJs(Napi::Env env, const Napi::Value& v);
Napi::Object sslConfigToJs(Napi::Env env, const SslConfig& cfg);

// The augment section alone (BatchAugmenter): missing keys keep `base`'s values.
AugmentConfig augmentConfigFromJs(Napi::Env env, const Napi::Value& v, const AugmentConfig& base);
Napi::Object augmentConfigToJs(Napi::Env env, const AugmentConfig& cfg);

// Every objective: { name, summary, keys, predictor, prototypes, localCrops, options: [...] }.
Napi::Array objectivesToJs(Napi::Env env);

}  // namespace mssl::napi
