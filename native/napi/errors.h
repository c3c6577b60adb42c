// Maps C++ exceptions to JS errors. Every entry point runs under guarded(): a c10::Error that
// escapes a node-addon-api callback would otherwise terminate Node (exit 134).
#pragma once
#include <napi.h>

#include <string>

namespace mssl::napi {

struct ErrorInfo {
  enum class Kind { Type, Range, Error } kind = Kind::Error;
  // ERR_INVALID_ARG, ERR_OUT_OF_RANGE, ERR_TORCH, ERR_NATIVE, ERR_IO, ERR_CHECKPOINT_CORRUPT, ERR_DIVERGED
  std::string code;
  std::string message;
  std::string path;       // ERR_IO, ERR_CHECKPOINT_CORRUPT: the file
  std::string errnoName;  // ERR_IO: "ENOSPC", "EACCES", ...
  double step = -1;       // ERR_DIVERGED: optimizer steps done before the failing one
  double lr = 0;          // ERR_DIVERGED
};

// A message for users: the first line of LibTorch's text, never its C++ backtrace.
std::string withoutBacktrace(const std::string& message);

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
