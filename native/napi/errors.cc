#include "napi/errors.h"

#include <exception>
#include <stdexcept>

#include <c10/util/Exception.h>

#include "core/atomic_file.h"
#include "core/finite_guard.h"

namespace mssl::napi {

ErrorInfo captureCurrentException() {
  ErrorInfo e;
  try {
    throw;
  } catch (const c10::Error& ex) {
    // The backtrace is for LibTorch developers; users get LibTorch's message.
    e.code = "ERR_TORCH";
    e.message = std::string("LibTorch: ") + withoutBacktrace(ex.what_without_backtrace());
  } catch (const IoError& ex) {
    e.code = "ERR_IO";
    e.message = ex.what();
    e.path = ex.path();
    e.errnoName = ex.errnoName();
  } catch (const CorruptFileError& ex) {
    e.code = "ERR_CHECKPOINT_CORRUPT";
    e.message = ex.what();
    e.path = ex.path();
  } catch (const DivergedError& ex) {
    e.code = "ERR_DIVERGED";
    e.message = ex.what();
    e.step = static_cast<double>(ex.step());
    e.lr = ex.lr();
  } catch (const std::invalid_argument& ex) {
    e.kind = ErrorInfo::Kind::Type;
    e.code = "ERR_INVALID_ARG";
    e.message = withoutBacktrace(ex.what());
  } catch (const std::out_of_range& ex) {
    e.kind = ErrorInfo::Kind::Range;
    e.code = "ERR_OUT_OF_RANGE";
    e.message = withoutBacktrace(ex.what());
  } catch (const std::bad_alloc&) {
    e.code = "ERR_NATIVE";
    e.message = "out of memory in native code";
  } catch (const std::exception& ex) {
    e.code = "ERR_NATIVE";
    e.message = withoutBacktrace(ex.what());
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
  if (!e.path.empty()) err.Set("path", Napi::String::New(env, e.path));
  if (!e.errnoName.empty()) err.Set("errno", Napi::String::New(env, e.errnoName));
  if (e.step >= 0) {
    err.Set("step", Napi::Number::New(env, e.step));
    err.Set("lr", Napi::Number::New(env, e.lr));
  }
  return err;
}

std::string withoutBacktrace(const std::string& message) {
  // LibTorch appends "Exception raised from <fn> at <file>:<line> ... frame #0: ..." to what();
  // a message quoting one (a nested error) gets cut there too.
  std::string out = message;
  for (const char* marker : {"Exception raised from ", "frame #0"}) {
    const auto at = out.find(marker);
    if (at != std::string::npos) out.resize(at);
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ' || out.back() == '(')) out.pop_back();
  return out;
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
