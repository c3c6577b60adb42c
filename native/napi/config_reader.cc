#include "napi/config_reader.h"

#include <cmath>

#include "napi/errors.h"

namespace mssl::napi {

ConfigReader::ConfigReader(Napi::Env env, Napi::Value v, std::string path) : env_(env), present_(false), path_(std::move(path)) {
  if (v.IsUndefined() || v.IsNull()) return;
  if (!v.IsObject() || v.IsArray()) throwTypeError(env, (path_.empty() ? std::string("config") : path_) + " must be an object");
  obj_ = v.As<Napi::Object>();
  present_ = true;
}

bool ConfigReader::has(const char* key) const {
  if (!present_) return false;
  Napi::Value v = obj_.Get(key);
  return !v.IsUndefined();
}

Napi::Value ConfigReader::get(const char* key) const { return present_ ? obj_.Get(key) : env_.Undefined(); }

ConfigReader ConfigReader::child(const char* key) const { return ConfigReader(env_, get(key), where(key)); }

void ConfigReader::number(const char* key, double& out) const {
  if (!has(key)) return;
  Napi::Value v = get(key);
  if (!v.IsNumber()) throwTypeError(env_, where(key) + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d)) throwRangeError(env_, where(key) + " must be finite, got " + std::to_string(d));
  out = d;
}

void ConfigReader::integer(const char* key, int64_t& out, int64_t min, int64_t max) const {
  if (!has(key)) return;
  Napi::Value v = get(key);
  double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : NAN;
  if (!v.IsNumber() || d != std::floor(d) || !std::isfinite(d)) throwTypeError(env_, where(key) + " must be an integer");
  if (d < static_cast<double>(min) || d > static_cast<double>(max)) {
    throwRangeError(env_, where(key) + " must be in [" + std::to_string(min) + ", " + std::to_string(max) + "], got " + std::to_string(static_cast<int64_t>(d)));
  }
  out = static_cast<int64_t>(d);
}

void ConfigReader::integer(const char* key, int& out, int64_t min, int64_t max) const {
  int64_t v = out;
  integer(key, v, min, max);
  out = static_cast<int>(v);
}

void ConfigReader::boolean(const char* key, bool& out) const {
  if (!has(key)) return;
  Napi::Value v = get(key);
  if (!v.IsBoolean()) throwTypeError(env_, where(key) + " must be a boolean");
  out = v.As<Napi::Boolean>().Value();
}

void ConfigReader::string(const char* key, std::string& out) const {
  if (!has(key)) return;
  Napi::Value v = get(key);
  if (!v.IsString()) throwTypeError(env_, where(key) + " must be a string");
  out = v.As<Napi::String>().Utf8Value();
}

void ConfigReader::stringList(const char* key, std::vector<std::string>& out) const {
  if (!has(key)) return;
  Napi::Value v = get(key);
  if (!v.IsArray()) throwTypeError(env_, where(key) + " must be an array of strings");
  auto a = v.As<Napi::Array>();
  out.clear();
  for (uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value e = a.Get(i);
    if (!e.IsString()) throwTypeError(env_, where(key) + "[" + std::to_string(i) + "] must be a string");
    out.push_back(e.As<Napi::String>().Utf8Value());
  }
}

void ConfigReader::numberList(const char* key, std::vector<double>& out) const {
  if (!has(key)) return;
  Napi::Value v = get(key);
  if (!v.IsArray()) throwTypeError(env_, where(key) + " must be an array of numbers");
  auto a = v.As<Napi::Array>();
  out.clear();
  for (uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value e = a.Get(i);
    if (!e.IsNumber() || !std::isfinite(e.As<Napi::Number>().DoubleValue())) {
      throwTypeError(env_, where(key) + "[" + std::to_string(i) + "] must be a finite number");
    }
    out.push_back(e.As<Napi::Number>().DoubleValue());
  }
}

void ConfigReader::seed(const char* key, uint64_t& out) const {
  int64_t v = static_cast<int64_t>(out);
  integer(key, v, 0, (int64_t(1) << 53) - 1);
  out = static_cast<uint64_t>(v);
}

}  // namespace mssl::napi
