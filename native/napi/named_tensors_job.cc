#include "napi/named_tensors_job.h"

#include <string>

#include "core/named_tensors.h"
#include "napi/addon.h"
#include "napi/errors.h"
#include "napi/tensor_wrap.h"
#include "napi/worker.h"

namespace mssl::napi {

namespace {

class NamedTensorsJob : public Job {
 public:
  NamedTensorsJob(std::shared_ptr<SslNetworks> model, bool projector, bool ema)
      : model_(std::move(model)), projector_(projector), ema_(ema) {}
  void execute() override { out_ = projector_ ? projectorTensors(*model_, ema_) : backboneTensors(*model_, ema_); }
  Napi::Value result(Napi::Env env) override {
    auto arr = Napi::Array::New(env, out_.size());
    for (size_t i = 0; i < out_.size(); ++i) {
      auto pair = Napi::Array::New(env, 2);
      pair.Set(0u, Napi::String::New(env, out_[i].first));
      pair.Set(1u, TensorWrap::wrap(env, out_[i].second));
      arr.Set(static_cast<uint32_t>(i), pair);
    }
    return arr;
  }

 private:
  std::shared_ptr<SslNetworks> model_;
  bool projector_, ema_;
  NamedTensors out_;
};

}  // namespace

Napi::Value submitNamedTensors(const Napi::CallbackInfo& info, std::shared_ptr<SslNetworks> model) {
  Napi::Env env = info.Env();
  const std::string which = info.Length() > 0 && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
  if (which != "backbone" && which != "projector") throwTypeError(env, "which must be 'backbone' or 'projector'");
  if (info.Length() > 1 && !info[1].IsUndefined() && !info[1].IsBoolean()) throwTypeError(env, "ema must be a boolean");
  const bool ema = info.Length() > 1 && info[1].IsBoolean() && info[1].As<Napi::Boolean>().Value();
  auto job = std::make_unique<NamedTensorsJob>(std::move(model), which == "projector", ema);
  job->keepAlive(info.This().As<Napi::Object>());
  return addonData(env).worker->submit(env, std::move(job));
}

}  // namespace mssl::napi
