#include "napi/errors.h"

#include <exception>
#include <stdexcept>

#include <c10/util/Exception.h>

namespace mssl::napi {

ErrorInfo captureCurrentException() {
  ErrorInfo e;
  try {
    throw;
  } catch (const c10::Error& ex) {
    // The backtrace is for LibTorch developers; users get LibTorch's message.
    e.code = "ERR_TORCH";
    e.message = std::string("LibTorch: ") + ex.what_without_backtrace();
  } catch (const std::invalid_argument& ex) {
    e.kind = ErrorInfo::Kind::Type;
    e.code = "ERR_INVALID_ARG";
    e.message = ex.what();
  } catch (const std::out_of_range& ex) {
    e.kind = ErrorInfo::Kind::Range;
    e.code = "ERR_OUT_OF_RANGE";
    e.message = ex.what();
  } catch (const std::bad_alloc&) {
    e.code = "ERR_NATIVE";
    e.message = "out of memory in native code";
  } catch (const std::exception& ex) {
    e.code = "ERR_NATIVE";
    e.message = ex.what();
  } catch (...) {
    e.code = "ERR_NATIVE";
    e.message = "unknown native exception";
  }
  return e;
}

Napi::Error toJsError(Napi::Env env, const ErrorInfo& e) {
  Napi::Error err;
  switch (e.kind) {
    case ErrorInfo::Kind::Type: err = Napi::TypeError::New(env, e.message); break;
    case ErrorInfo::Kind::Range: err = Napi::RangeError::New(env, e.message); break;
    default: err = Napi::Error::New(env, e.message); break;
  }
  err.Set("code", Napi::String::New(env, e.code));
  return err;
}

void throwTypeError(Napi::Env env, const std::string& message) {
  auto err = Napi::TypeError::New(env, message);
  err.Set("code", Napi::String::New(env, "ERR_INVALID_ARG"));
  throw err;
}

void throwRangeError(Napi::Env env, const std::string& message) {
  auto err = Napi::RangeError::New(env, message);
  err.Set("code", Napi::String::New(env, "ERR_OUT_OF_RANGE"));
  throw err;
}

}  // namespace mssl::napi
