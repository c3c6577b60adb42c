// JS handle for an at::Tensor: explicit dispose(), live count/bytes, external memory for V8.
#pragma once
#include <napi.h>

#include <ATen/core/Tensor.h>

#include <optional>
#include <string>

namespace mssl::napi {

class TensorWrap : public Napi::ObjectWrap<TensorWrap> {
 public:
  static Napi::Function define(Napi::Env env);
  static Napi::Object wrap(Napi::Env env, at::Tensor t);
  // Unwraps argument `name`; TypeError if it is not a live tensor.
  static at::Tensor arg(const Napi::Value& v, const char* name);
  static bool isTensor(const Napi::Value& v);

  explicit TensorWrap(const Napi::CallbackInfo& info);
  ~TensorWrap() override;

  const at::Tensor& tensor(const char* name) const;

 private:
  Napi::Value shape(const Napi::CallbackInfo& info);
  Napi::Value dtype(const Napi::CallbackInfo& info);
  Napi::Value device(const Napi::CallbackInfo& info);
  Napi::Value nbytes(const Napi::CallbackInfo& info);
  Napi::Value disposed(const Napi::CallbackInfo& info);
  Napi::Value toTypedArray(const Napi::CallbackInfo& info);
  Napi::Value dispose(const Napi::CallbackInfo& info);
  Napi::Value matmul(const Napi::CallbackInfo& info);

  void release();

  std::optional<at::Tensor> t_;
  int64_t bytes_ = 0;
  napi_env env_ = nullptr;
};

std::string dtypeName(at::ScalarType s);

}  // namespace mssl::napi
