#include "napi/paths.h"

#include "core/atomic_file.h"
#include "napi/errors.h"

namespace mssl::napi {

std::string pathArg(const Napi::Value& v, const char* what) {
  if (!v.IsString()) throwTypeError(v.Env(), std::string(what) + " must be a non-empty string");
  std::string path = v.As<Napi::String>().Utf8Value();
  try {
    checkRegularFileTarget(path, what);
  } catch (const std::invalid_argument& e) {
    throwTypeError(v.Env(), e.what());
  }
  return path;
}

}  // namespace mssl::napi
