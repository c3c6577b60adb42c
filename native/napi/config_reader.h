// Reads a JS config object into C++ structs. A missing key keeps the C++ default; a present key
// of the wrong type or range throws a TypeError/RangeError naming its full path ("ema.base").
#pragma once
#include <napi.h>

#include <string>
#include <vector>

namespace mssl::napi {

class ConfigReader {
 public:
  ConfigReader(Napi::Env env, Napi::Value v, std::string path);

  bool has(const char* key) const;
  ConfigReader child(const char* key) const;  // {} when absent
  Napi::Value raw(const char* key) const { return get(key); }
  Napi::Env env() const { return env_; }

  void number(const char* key, double& out) const;
  void integer(const char* key, int64_t& out, int64_t min = INT64_MIN, int64_t max = INT64_MAX) const;
  void integer(const char* key, int& out, int64_t min = INT32_MIN, int64_t max = INT32_MAX) const;
  void boolean(const char* key, bool& out) const;
  void string(const char* key, std::string& out) const;
  void stringList(const char* key, std::vector<std::string>& out) const;
  void numberList(const char* key, std::vector<double>& out) const;
  void seed(const char* key, uint64_t& out) const;

 private:
  Napi::Value get(const char* key) const;
  std::string where(const char* key) const { return path_.empty() ? key : path_ + "." + key; }
  Napi::Env env_;
  Napi::Object obj_;
  bool present_;
  std::string path_;
};

}  // namespace mssl::napi
