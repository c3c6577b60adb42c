// NativeAugmenter: JS handle on a core BatchAugmenter. apply/getState/setState run as jobs on the
// torch worker, so they are ordered with each other (and with training steps): a state read after
// apply() sees the generator after that apply, never halfway through one.
#include <cmath>
#include <memory>
#include <string>

#include "core/augment.h"
#include "napi/addon.h"
#include "napi/config_schema.h"
#include "napi/errors.h"
#include "napi/registry.h"
#include "napi/tensor_wrap.h"

namespace mssl::napi {

namespace {

uint64_t seedFromJs(Napi::Env env, const Napi::Value& v) {
  if (v.IsUndefined()) return 0;
  if (v.IsBigInt()) {
    bool lossless = false;
    uint64_t s = v.As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) throwRangeError(env, "seed must be an integer in [0, 2^64 - 1]");
    return s;
  }
  double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
  if (!v.IsNumber()) throwTypeError(env, "seed must be a non-negative integer (number or bigint)");
  if (!(d >= 0 && d <= 9007199254740991.0) || d != std::floor(d)) throwRangeError(env, "seed must be an integer in [0, 2^53 - 1] (use a bigint for larger seeds)");
  return static_cast<uint64_t>(d);
}

class ApplyJob : public Job {
 public:
  ApplyJob(std::shared_ptr<BatchAugmenter> aug, at::Tensor x) : aug_(std::move(aug)), x_(std::move(x)) {}
  void execute() override { out_ = (*aug_)(x_); }
  Napi::Value result(Napi::Env env) override { return TensorWrap::wrap(env, out_); }

 private:
  std::shared_ptr<BatchAugmenter> aug_;
  at::Tensor x_, out_;
};

class GetStateJob : public Job {
 public:
  explicit GetStateJob(std::shared_ptr<BatchAugmenter> aug) : aug_(std::move(aug)) {}
  void execute() override { out_ = aug_->generatorState(); }
  Napi::Value result(Napi::Env env) override { return TensorWrap::wrap(env, out_); }

 private:
  std::shared_ptr<BatchAugmenter> aug_;
  at::Tensor out_;
};

class SetStateJob : public Job {
 public:
  SetStateJob(std::shared_ptr<BatchAugmenter> aug, at::Tensor state) : aug_(std::move(aug)), state_(std::move(state)) {}
  void execute() override { aug_->setGeneratorState(state_); }
  Napi::Value result(Napi::Env env) override { return env.Undefined(); }

 private:
  std::shared_ptr<BatchAugmenter> aug_;
  at::Tensor state_;
};

class AugmenterWrap : public Napi::ObjectWrap<AugmenterWrap> {
 public:
  static Napi::Function define(Napi::Env env) {
    return DefineClass(env, "NativeAugmenter",
                       {
                           InstanceMethod<&AugmenterWrap::apply>("apply"),
                           InstanceMethod<&AugmenterWrap::getState>("getState"),
                           InstanceMethod<&AugmenterWrap::setState>("setState"),
                           InstanceMethod<&AugmenterWrap::config>("config"),
                           InstanceMethod<&AugmenterWrap::dispose>("dispose"),
                           InstanceAccessor<&AugmenterWrap::disposed>("disposed"),
                       });
  }

  explicit AugmenterWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<AugmenterWrap>(info) {
    guarded(info.Env(), [&]() -> Napi::Value {
      AugmentConfig cfg = augmentConfigFromJs(info.Env(), info[0], AugmentConfig{});
      uint64_t seed = seedFromJs(info.Env(), info[1]);
      aug_ = std::make_shared<BatchAugmenter>(std::move(cfg), seed);  // validates, naming the field
      return info.Env().Undefined();
    });
  }

 private:
  // Jobs hold their own shared_ptr, so dispose() while one is queued is safe.
  const std::shared_ptr<BatchAugmenter>& live(Napi::Env env) {
    if (!aug_) {
      auto err = Napi::Error::New(env, "augmenter has been disposed");
      err.Set("code", Napi::String::New(env, "ERR_DISPOSED"));
      throw err;
    }
    return aug_;
  }

  Napi::Value apply(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      const auto& aug = live(info.Env());
      at::Tensor x = TensorWrap::arg(info[0], "batch");
      BatchAugmenter::checkInput(x);  // fail synchronously, before queueing
      aug->config().validate(x.size(1));
      auto job = std::make_unique<ApplyJob>(aug, x);
      job->keepAlive(info[0].As<Napi::Object>());
      return addonData(info.Env()).worker->submit(info.Env(), std::move(job));
    });
  }

  Napi::Value getState(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      return addonData(info.Env()).worker->submit(info.Env(), std::make_unique<GetStateJob>(live(info.Env())));
    });
  }

  Napi::Value setState(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      const auto& aug = live(info.Env());
      at::Tensor state = TensorWrap::arg(info[0], "state");
      if (state.scalar_type() != at::kByte || state.dim() != 1) {
        throwTypeError(info.Env(), "state must be a 1-D uint8 Tensor from getState()");
      }
      auto job = std::make_unique<SetStateJob>(aug, state);
      job->keepAlive(info[0].As<Napi::Object>());
      return addonData(info.Env()).worker->submit(info.Env(), std::move(job));
    });
  }

  Napi::Value config(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value { return augmentConfigToJs(info.Env(), live(info.Env())->config()); });
  }

  Napi::Value dispose(const Napi::CallbackInfo& info) {
    aug_.reset();
    return info.Env().Undefined();
  }

  Napi::Value disposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !aug_); }

  std::shared_ptr<BatchAugmenter> aug_;
};

Napi::Value augmentDefaults(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value { return augmentConfigToJs(info.Env(), AugmentConfig{}); });
}

void init(Napi::Env env, Napi::Object exports) {
  exports.Set("NativeAugmenter", AugmenterWrap::define(env));
  exports.Set("augmentDefaults", Napi::Function::New<augmentDefaults>(env, "augmentDefaults"));
}

}  // namespace

MSSL_REGISTER_BINDING(augment, init);

}  // namespace mssl::napi
