// NativeNegativeQueue: JS handle on a mssl::NegativeQueue (design §4). Synchronous: enqueue/state are
// small copies. Masks cross to JS as uint8 (JS has no bool typed array).
#include <torch/torch.h>

#include <memory>
#include <string>

#include "core/queue.h"
#include "napi/errors.h"
#include "napi/registry.h"
#include "napi/tensor_wrap.h"

namespace mssl::napi {

namespace {

int64_t intArg(Napi::Env env, const Napi::Value& v, const char* name) {
  if (!v.IsNumber()) throwTypeError(env, std::string("NegativeQueue: ") + name + " must be an integer");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= -9.0e15 && d <= 9.0e15) || d != static_cast<double>(static_cast<int64_t>(d))) {
    throwRangeError(env, std::string("NegativeQueue: ") + name + " must be an integer, got " + std::to_string(d));
  }
  return static_cast<int64_t>(d);
}

class QueueWrap : public Napi::ObjectWrap<QueueWrap> {
 public:
  static Napi::Function define(Napi::Env env) {
    return DefineClass(env, "NativeNegativeQueue",
                       {
                           InstanceAccessor<&QueueWrap::size>("size"),
                           InstanceAccessor<&QueueWrap::dim>("dim"),
                           InstanceAccessor<&QueueWrap::pointer>("pointer"),
                           InstanceAccessor<&QueueWrap::numValid>("numValid"),
                           InstanceAccessor<&QueueWrap::dtype>("dtype"),
                           InstanceAccessor<&QueueWrap::disposed>("disposed"),
                           InstanceMethod<&QueueWrap::enqueue>("enqueue"),
                           InstanceMethod<&QueueWrap::negatives>("negatives"),
                           InstanceMethod<&QueueWrap::state>("state"),
                           InstanceMethod<&QueueWrap::loadState>("loadState"),
                           InstanceMethod<&QueueWrap::dispose>("dispose"),
                       });
  }

  // new NativeQueue(size, dim, dtype = 'float32')
  explicit QueueWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<QueueWrap>(info) {
    guarded(info.Env(), [&]() -> Napi::Value {
      Napi::Env env = info.Env();
      int64_t size = intArg(env, info[0], "size");
      int64_t dim = intArg(env, info[1], "dim");
      at::ScalarType dt = at::kFloat;
      if (info.Length() > 2 && !info[2].IsUndefined()) {
        std::string s = info[2].IsString() ? info[2].As<Napi::String>().Utf8Value() : "";
        if (s == "float64") dt = at::kDouble;
        else if (s != "float32") throwTypeError(env, "NegativeQueue: dtype must be 'float32' or 'float64'");
      }
      // Shared: a native training step will need to hold the queue beyond this JS handle.
      q_ = std::make_shared<NegativeQueue>(size, dim, torch::TensorOptions().dtype(dt));
      return env.Undefined();
    });
  }

 private:
  NegativeQueue& live(Napi::Env env) {
    if (!q_) {
      auto err = Napi::Error::New(env, "NativeQueue has been disposed");
      err.Set("code", Napi::String::New(env, "ERR_DISPOSED"));
      throw err;
    }
    return *q_;
  }

  Napi::Value size(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), static_cast<double>(live(info.Env()).size())); }
  Napi::Value dim(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), static_cast<double>(live(info.Env()).dim())); }
  Napi::Value pointer(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(live(info.Env()).pointer()));
  }
  Napi::Value numValid(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(live(info.Env()).numValid()));
  }
  Napi::Value dtype(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), dtypeName(live(info.Env()).negatives().keys.scalar_type()));
  }
  Napi::Value disposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !q_); }

  Napi::Value enqueue(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      NegativeQueue& q = live(info.Env());
      q.enqueue(TensorWrap::arg(info[0], "keys"), TensorWrap::arg(info[1], "sampleIndex"));
      return info.Env().Undefined();
    });
  }

  // A snapshot (copies): later enqueues do not change what JS holds.
  Napi::Value negatives(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      Napi::Env env = info.Env();
      InfoNceNegatives n = live(env).negatives();
      auto o = Napi::Object::New(env);
      o.Set("keys", TensorWrap::wrap(env, n.keys.clone()));
      o.Set("valid", TensorWrap::wrap(env, n.valid.to(at::kByte)));
      o.Set("sampleIndex", TensorWrap::wrap(env, n.sampleIndex.clone()));
      return o;
    });
  }

  Napi::Value state(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      Napi::Env env = info.Env();
      auto o = Napi::Object::New(env);
      for (auto& [name, t] : live(env).state()) {
        if (name == "pointer") o.Set(name, Napi::Number::New(env, static_cast<double>(t.item<int64_t>())));
        else o.Set(name, TensorWrap::wrap(env, t.scalar_type() == at::kBool ? t.to(at::kByte) : t));
      }
      return o;
    });
  }

  // loadState({ keys, sampleIndex, valid, pointer }); valid may be uint8 or bool.
  Napi::Value loadState(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      Napi::Env env = info.Env();
      NegativeQueue& q = live(env);
      if (info.Length() < 1 || !info[0].IsObject()) throwTypeError(env, "loadState: state must be an object { keys, sampleIndex, valid, pointer }");
      auto o = info[0].As<Napi::Object>();
      at::Tensor valid = TensorWrap::arg(o.Get("valid"), "valid");
      if (valid.scalar_type() == at::kByte) valid = valid.to(at::kBool);
      int64_t p = intArg(env, o.Get("pointer"), "pointer");
      q.loadState({{"keys", TensorWrap::arg(o.Get("keys"), "keys")},
                   {"sampleIndex", TensorWrap::arg(o.Get("sampleIndex"), "sampleIndex")},
                   {"valid", valid},
                   {"pointer", torch::tensor(p, torch::TensorOptions().dtype(torch::kLong))}});
      return env.Undefined();
    });
  }

  Napi::Value dispose(const Napi::CallbackInfo& info) {
    q_.reset();
    return info.Env().Undefined();
  }

  std::shared_ptr<NegativeQueue> q_;
};

void init(Napi::Env env, Napi::Object exports) { exports.Set("NativeNegativeQueue", QueueWrap::define(env)); }

}  // namespace

MSSL_REGISTER_BINDING(queue, init);

}  // namespace mssl::napi
