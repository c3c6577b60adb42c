// Maps C++ exceptions to JS errors. Every entry point runs under guarded(): a c10::Error that
// escapes a node-addon-api callback would otherwise terminate Node (exit 134).
#pragma once
#include <napi.h>

#include <string>

namespace mssl::napi {

struct ErrorInfo {
  enum class Kind { Type, Range, Error } kind = Kind::Error;
  std::string code;     // ERR_INVALID_ARG, ERR_OUT_OF_RANGE, ERR_TORCH, ERR_NATIVE
  std::string message;
};

// Classifies the exception being handled; call only inside a catch block.
ErrorInfo captureCurrentException();

Napi::Error toJsError(Napi::Env env, const ErrorInfo& e);

template <typename F>
Napi::Value guarded(Napi::Env env, F&& body) {
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    throw toJsError(env, captureCurrentException());
  }
}

// Argument errors raised directly by the binding layer.
[[noreturn]] void throwTypeError(Napi::Env env, const std::string& message);
[[noreturn]] void throwRangeError(Napi::Env env, const std::string& message);

}  // namespace mssl::napi
